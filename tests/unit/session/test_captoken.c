#include "session/captoken.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

static char dir[] = "/tmp/cs-captoken-XXXXXX";

static void test_create_and_destroy(void **state)
{
	struct captoken a, b;
	struct stat st;
	char buf[128] = {0};
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(captoken_create(&a, dir), 0);
	assert_int_equal(captoken_create(&b, dir), 0);
	assert_int_equal(strlen(a.token), 64);
	assert_int_equal(strspn(a.token, "0123456789abcdef"), 64);
	assert_string_not_equal(a.token, b.token);
	assert_int_equal(stat(a.path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	f = fopen(a.path, "r");
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, a.token);
	char *path = strdup(a.path);
	captoken_destroy(&a);
	captoken_destroy(&a);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(a.token[0], '\0');
	free(path);
	captoken_destroy(&b);
}

static void test_clean_stale(void **state)
{
	char *dead = NULL, *live = NULL, *other = NULL, sock_dead[256], sock_live[256];
	FILE *f;

	(void)state;
	/* pid 2^22+1 is above pid_max on common systems: certainly not running. */
	dead = malloc(256);
	live = malloc(256);
	other = malloc(256);
	snprintf(dead, 256, "%s/ws-token-4194305-x", dir);
	snprintf(live, 256, "%s/ws-token-%ld-y", dir, (long)getpid());
	snprintf(other, 256, "%s/refresh.lock", dir);
	fclose(fopen(dead, "w"));
	fclose(fopen(live, "w"));
	f = fopen(other, "w");
	fclose(f);
	/* session/transport's sockets (plain files do here) go the same way */
	snprintf(sock_dead, sizeof(sock_dead), "%s/sock-4194305-tui", dir);
	snprintf(sock_live, sizeof(sock_live), "%s/sock-%ld-app", dir, (long)getpid());
	fclose(fopen(sock_dead, "w"));
	fclose(fopen(sock_live, "w"));
	captoken_clean_stale(dir);
	assert_int_equal(access(sock_dead, F_OK), -1);
	assert_int_equal(access(sock_live, F_OK), 0);
	unlink(sock_live);
	assert_int_equal(access(dead, F_OK), -1);
	assert_int_equal(access(live, F_OK), 0);
	assert_int_equal(access(other, F_OK), 0);
	unlink(live);
	unlink(other);
	rmdir(dir);
	free(dead);
	free(live);
	free(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_create_and_destroy),
	        cmocka_unit_test(test_clean_stale),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
