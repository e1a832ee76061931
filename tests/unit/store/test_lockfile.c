#define _GNU_SOURCE /* nftw */
#include "base/fileio.h"
#include "store/lockfile.h"
#include "base/util.h"

#include "tmpdir.h"

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

static char dir[] = "/tmp/cs-lock-XXXXXX";
static char *path;

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir)) {
		return -1;
	}
	path = util_printf("%s/accounts.lock", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(path);
	tmpdir_remove(dir);
	return 0;
}

static int count_temp_files(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		n += strstr(e->d_name, ".tmp") != NULL;
	}
	closedir(d);
	return n;
}

/* The pid of a process that has exited and been reaped. */
static pid_t dead_pid(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return pid;
}

/* Our host, boot id and pid namespace as a lock records them. */
static char *our_place(void)
{
	char host[256] = "", boot[64] = "", ns[64] = "";
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	ssize_t n;

	assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
	assert_non_null(f);
	assert_non_null(fgets(boot, sizeof(boot), f));
	fclose(f);
	boot[strcspn(boot, "\n")] = '\0';
	n = readlink("/proc/self/ns/pid", ns, sizeof(ns) - 1);
	ns[n > 0 ? n : 0] = '\0';
	return util_printf("host=%s\nboot_id=%s\npid_ns=%s\n", host, boot, ns);
}

/* Plants a lock of pid; place: extra lines ("" = a lock of the Rust or an older version). */
static void plant_lock_at(long pid, const char *lock_id, const char *place)
{
	char *text = util_printf("lock_id=%s\npid=%ld\ncreated_at=2026-05-01T00:00:00Z\n%s",
	                         lock_id, pid, place);

	unlink(path);
	assert_int_equal(fileio_write_new(path, text, strlen(text)), 0);
	free(text);
}

/* A lock of pid written on this host, boot and namespace. */
static void plant_lock(long pid, const char *lock_id)
{
	char *place = our_place();

	plant_lock_at(pid, lock_id, place);
	free(place);
}

static void age(int seconds)
{
	struct timeval old[2];

	gettimeofday(&old[0], NULL);
	old[0].tv_sec -= seconds;
	old[1] = old[0];
	assert_int_equal(utimes(path, old), 0);
}

static void test_acquire_and_release(void **state)
{
	struct lockfile l, other;
	struct stat st;
	char *text, want[128], *place;

	(void)state;
	assert_int_equal(lockfile_acquire(&l, path, 1000), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(fileio_read(path, 4096, &text, NULL), 0);
	snprintf(want, sizeof(want), "lock_id=%s\npid=%ld\ncreated_at=", l.lock_id, (long)getpid());
	assert_true(util_starts_with(text, want));
	assert_int_equal(text[strlen(text) - 1], '\n');
	place = our_place();
	assert_non_null(strstr(text, place));
	free(place);
	free(text);
	assert_int_equal(lockfile_try(&other, path), -EAGAIN); /* we are alive */
	lockfile_release(&l);
	assert_int_equal(access(path, F_OK), -1);
	lockfile_release(&l); /* a second release is a no-op */
}

static void test_release_keeps_foreign_lock(void **state)
{
	struct lockfile l;

	(void)state;
	assert_int_equal(lockfile_try(&l, path), 0);
	plant_lock((long)getpid(), "00000000-0000-4000-8000-000000000000");
	lockfile_release(&l);
	assert_int_equal(access(path, F_OK), 0);
	unlink(path);
}

static void test_dead_owner_reclaimed_quickly(void **state)
{
	struct lockfile l;
	int64_t start;

	(void)state;
	plant_lock((long)dead_pid(), "11111111-1111-4111-8111-111111111111");
	start = util_now_ms();
	assert_int_equal(lockfile_acquire(&l, path, 5000), 0);
	assert_true(util_now_ms() - start < 1000);
	lockfile_release(&l);
	assert_int_equal(access(path, F_OK), -1);
}

static void test_live_owner_times_out(void **state)
{
	struct lockfile l;
	int64_t start;

	(void)state;
	plant_lock((long)getppid(), "22222222-2222-4222-8222-222222222222");
	start = util_now_ms();
	assert_int_equal(lockfile_acquire(&l, path, 300), -ETIMEDOUT);
	assert_true(util_now_ms() - start >= 300);
	assert_int_equal(access(path, F_OK), 0); /* a live owner's lock is never removed */
	unlink(path);
}

static void test_unreadable_lock_reclaimed_when_old(void **state)
{
	struct lockfile l;

	(void)state;
	unlink(path);
	assert_int_equal(fileio_write_new(path, "", 0), 0);
	assert_int_equal(lockfile_try(&l, path), -EAGAIN); /* its writer may still be writing */
	age(2 * LOCKFILE_UNREADABLE_STALE_S);
	assert_int_equal(lockfile_try(&l, path), 0);
	lockfile_release(&l);
}

/* A dead pid means nothing for a lock from another host, boot or pid namespace. */
static void test_foreign_lock_never_reclaimed(void **state)
{
	char *ours = our_place(), *p;
	const char *other_host = "host=some-other-machine\n";
	struct lockfile l;
	pid_t dead = dead_pid();

	(void)state;
	/* ours with the host replaced, with the boot id replaced, with the namespace replaced */
	for (int i = 0; i < 3; i++) {
		char *text = strdup(ours), *line = text;
		for (int k = 0; k < i; k++) {
			line = strchr(line, '\n') + 1;
		}
		p = strchr(line, '=') + 1;
		for (; *p != '\n'; p++) {
			*p = *p == 'x' ? 'y' : 'x';
		}
		plant_lock_at((long)dead, "44444444-4444-4444-8444-444444444444", text);
		age(3600);
		assert_int_equal(lockfile_try(&l, path), -EAGAIN);
		assert_int_equal(access(path, F_OK), 0);
		free(text);
	}
	plant_lock_at((long)dead, "44444444-4444-4444-8444-444444444444", other_host);
	age(3600);
	assert_int_equal(lockfile_try(&l, path), -EAGAIN);
	unlink(path);
	free(ours);
}

/* A lock without host and boot id (Rust codex-switch, older versions): only when old. */
static void test_legacy_lock_reclaimed_when_old(void **state)
{
	struct lockfile l;

	(void)state;
	plant_lock_at((long)dead_pid(), "55555555-5555-4555-8555-555555555555", "");
	assert_int_equal(lockfile_try(&l, path), -EAGAIN);
	age(2 * LOCKFILE_LEGACY_STALE_S);
	assert_int_equal(lockfile_try(&l, path), 0);
	lockfile_release(&l);
	plant_lock_at((long)getppid(), "55555555-5555-4555-8555-555555555555", "");
	age(2 * LOCKFILE_LEGACY_STALE_S);
	assert_int_equal(lockfile_try(&l, path), -EAGAIN); /* alive */
	unlink(path);
}

/* The lock appears with its content: it is linked into place, never written in place. */
static void test_lock_never_empty(void **state)
{
	int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC), created = 0, written = 0;
	char events[8192] __attribute__((aligned(8)));
	struct lockfile l;
	ssize_t n;

	(void)state;
	unlink(path);
	assert_true(in >= 0);
	assert_true(inotify_add_watch(in, dir, IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE) >= 0);
	assert_int_equal(lockfile_try(&l, path), 0);
	while ((n = read(in, events, sizeof(events))) > 0) {
		for (char *p = events; p < events + n;) {
			struct inotify_event *e = (struct inotify_event *)p;
			if (e->len && strcmp(e->name, "accounts.lock") == 0) {
				created += (e->mask & IN_CREATE) != 0;
				written += (e->mask & (IN_MODIFY | IN_CLOSE_WRITE)) != 0;
			}
			p += sizeof(*e) + e->len;
		}
	}
	close(in);
	assert_int_equal(created, 1);
	assert_int_equal(written, 0); /* created already whole */
	lockfile_release(&l);
	assert_int_equal(count_temp_files(), 0);
}

/* Children increment a counter under the lock, starting from a lock left by a dead process. */
static void child_increments(const char *counter, int rounds)
{
	for (int i = 0; i < rounds; i++) {
		struct lockfile l;
		char *text = NULL, num[32];
		long n = 0;
		if (lockfile_acquire(&l, path, 20000)) {
			_exit(1);
		}
		if (fileio_read(counter, 64, &text, NULL) == 0) {
			util_parse_long(text, 0, 1000000, &n);
		}
		free(text);
		snprintf(num, sizeof(num), "%ld", n + 1);
		if (fileio_write_atomic(counter, num, strlen(num))) {
			_exit(1);
		}
		lockfile_release(&l);
	}
	_exit(0);
}

static void test_mutual_exclusion(void **state)
{
	char *counter = util_printf("%s/counter", dir), *text;
	pid_t kids[8];
	int status;

	(void)state;
	plant_lock((long)dead_pid(), "33333333-3333-4333-8333-333333333333");
	for (size_t i = 0; i < UTIL_ARRAY_LEN(kids); i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			child_increments(counter, 25);
		}
	}
	for (size_t i = 0; i < UTIL_ARRAY_LEN(kids); i++) {
		assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(fileio_read(counter, 64, &text, NULL), 0);
	assert_string_equal(text, "200");
	assert_int_equal(access(path, F_OK), -1);
	free(text);
	free(counter);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_acquire_and_release),
	        cmocka_unit_test(test_release_keeps_foreign_lock),
	        cmocka_unit_test(test_dead_owner_reclaimed_quickly),
	        cmocka_unit_test(test_live_owner_times_out),
	        cmocka_unit_test(test_unreadable_lock_reclaimed_when_old),
	        cmocka_unit_test(test_foreign_lock_never_reclaimed),
	        cmocka_unit_test(test_legacy_lock_reclaimed_when_old),
	        cmocka_unit_test(test_lock_never_empty),
	        cmocka_unit_test(test_mutual_exclusion),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
