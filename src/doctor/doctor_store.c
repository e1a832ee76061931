/* doctor: the store directory, accounts.json, auth.json, the tokens and the logs. */
#include "doctor/doctor.h"

#include "base/fileio.h"
#include "store/authjson.h"
#include "store/jwt.h"
#include "store/runlog.h"
#include "store/store.h"
#include "base/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* "Mon 04 May 14:05 (in 2h 13m)" or "... (3d 2h ago)", in local time. */
static void when(int64_t t, char *out, size_t outsz)
{
	time_t tt = (time_t)t;
	int64_t now = util_now();
	char day[64], left[32];
	struct tm tm;

	if (!localtime_r(&tt, &tm)) {
		snprintf(out, outsz, "an unknown time");
		return;
	}
	strftime(day, sizeof(day), "%a %d %b %H:%M", &tm);
	util_format_countdown(t > now ? t - now : now - t, left, sizeof(left));
	snprintf(out, outsz, "%s (%s%s%s)", day, t > now ? "in " : "", left, t > now ? "" : " ago");
}

/*
 * Checks that path is ours and no more open than want (0700 or 0600). Returns false (after
 * adding a failure) when it is not; st is filled when it exists.
 */
static bool check_mode(struct doctor *d, const char *name, const char *path, mode_t want,
                       struct stat *st)
{
	struct doctor_check *c;

	if (st->st_uid != getuid()) {
		c = doctor_add(d, DOCTOR_FAIL, name, "'%s' belongs to another user (uid %ld)", path,
		               (long)st->st_uid);
		doctor_hint(c, "make it yours: chown %ld '%s'", (long)getuid(), path);
		return false;
	}
	if ((st->st_mode & 0777 & ~want) != 0) {
		c = doctor_add(d, DOCTOR_FAIL, name, "'%s' has mode %03o: others can read it", path,
		               (unsigned)(st->st_mode & 0777));
		doctor_hint(c, "chmod %03o '%s'", (unsigned)want, path);
		return false;
	}
	return true;
}

/* Duplicate identities and names: either makes selectors and switching ambiguous. */
static void check_duplicates(struct doctor *d, const struct store *s)
{
	char a[256], b[256];
	int found = 0;

	for (size_t i = 0; i < s->n; i++) {
		for (size_t j = i + 1; j < s->n; j++) {
			const struct account *x = &s->accounts[i], *y = &s->accounts[j];
			bool same = account_same_identity(x, y);
			if (!same && strcmp(x->name, y->name) != 0) {
				continue;
			}
			account_label(x, a, sizeof(a));
			account_label(y, b, sizeof(b));
			found++;
			doctor_hint(
			        doctor_add(d, DOCTOR_FAIL, "duplicates", "%s and %s %s", a, b,
			                   same ? "are the same account" : "have the same name"),
			        same ? "delete one of them: codex-switch delete %.8s"
			             : "rename one of them: codex-switch rename %.8s <new-name>",
			        y->id);
		}
	}
	if (!found) {
		doctor_add(d, DOCTOR_PASS, "duplicates", "no account is stored twice");
	}
}

static void check_tokens(struct doctor *d, const struct account *a, bool current)
{
	int64_t exp = jwt_exp(a->access_token), now = util_now();
	char label[256], t[160];
	struct jwt_claims claims;

	account_label(a, label, sizeof(label));
	if (a->relogin_reason) {
		doctor_hint(doctor_add(d, current ? DOCTOR_FAIL : DOCTOR_WARN, "tokens",
		                       "%s needs a new login (%s)%s", label, a->relogin_reason,
		                       current ? "; it is the current account" : ""),
		            "codex-switch login %s --replace", a->name);
		return;
	}
	if (jwt_claims(a->id_token, &claims) != 0 || !a->refresh_token || !a->refresh_token[0]) {
		doctor_hint(doctor_add(d, DOCTOR_FAIL, "tokens", "%s has no usable %s", label,
		                       a->refresh_token && a->refresh_token[0] ? "id token"
		                                                               : "refresh token"),
		            "codex-switch login %s --replace", a->name);
		return;
	}
	jwt_claims_release(&claims);
	if (exp == 0) {
		doctor_add(d, DOCTOR_PASS, "tokens",
		           "%s: access token expiry unknown; refreshed "
		           "when it is 8 days old",
		           label);
		return;
	}
	when(exp, t, sizeof(t));
	doctor_add(d, DOCTOR_PASS, "tokens", "%s: access token %s %s%s", label,
	           exp > now ? "valid until" : "expired", t,
	           exp > now ? "" : "; it is refreshed on next use");
}

static void check_accounts(struct doctor *d, const struct store *s)
{
	long cur = authjson_current(d->paths, s);
	size_t api = 0, disabled = 0;

	for (size_t i = 0; i < s->n; i++) {
		api += s->accounts[i].kind == ACCOUNT_API_KEY;
		disabled += s->accounts[i].disabled;
		if (s->accounts[i].kind == ACCOUNT_CHATGPT) {
			check_tokens(d, &s->accounts[i], (long)i == cur);
		}
	}
	doctor_add(d, DOCTOR_PASS, "accounts",
	           "'%s' holds %zu accounts (%zu ChatGPT, %zu API key, %zu disabled)",
	           d->paths->accounts, s->n, s->n - api, api, disabled);
	if (s->n - api - disabled == 0 && s->n) {
		doctor_hint(doctor_add(d, DOCTOR_WARN, "accounts",
		                       "no enabled ChatGPT account: 'run' cannot switch"),
		            "codex-switch enable <account>, or codex-switch login <name>");
	}
	check_duplicates(d, s);
}

/* Temp files of writers of path that died: copies of the file, tokens included. */
static void check_leftovers(struct doctor *d, const char *name, const char *path)
{
	char example[512], *dir;
	const char *base = strrchr(path, '/');
	int n = fileio_dead_temps(path, false, example, sizeof(example));

	if (n <= 0) {
		return;
	}
	dir = fileio_dirname(path);
	doctor_hint(doctor_add(d, DOCTOR_WARN, name,
	                       "%d temp file%s of interrupted writes of '%s' (such as '%s') "
	                       "may hold tokens",
	                       n, n == 1 ? "" : "s", path, example),
	            "the next change to it removes them, or delete them: rm '%s'/.%s.*.tmp",
	            dir ? dir : ".", base ? base + 1 : path);
	free(dir);
}

void doctor_check_store(struct doctor *d)
{
	const struct paths *p = d->paths;
	struct store s;
	struct stat st;
	char err[1024];

	if (stat(p->store_dir, &st) != 0) {
		doctor_hint(doctor_add(d, DOCTOR_WARN, "store",
		                       "'%s' does not exist yet: no account "
		                       "is stored",
		                       p->store_dir),
		            "codex-switch run (it stores the account of 'codex login' and "
		            "starts), codex-switch import <name>, or codex-switch login <name>");
		return;
	}
	if (check_mode(d, "store", p->store_dir, 0700, &st)) {
		doctor_add(d, DOCTOR_PASS, "store", "'%s' is private (0700)", p->store_dir);
	}
	if (stat(p->accounts, &st) == 0 && check_mode(d, "accounts.json", p->accounts, 0600, &st)) {
		doctor_add(d, DOCTOR_PASS, "accounts.json", "'%s' is private (0600)", p->accounts);
	}
	check_leftovers(d, "accounts.json", p->accounts);
	check_leftovers(d, "store", p->accounts_lock);
	check_leftovers(d, "store", p->usage_cache);
	if (store_load(p, &s, err, sizeof(err)) != 0) {
		doctor_hint(doctor_add(d, DOCTOR_FAIL, "accounts.json", "%s", err),
		            "fix the file by hand or move it away and import the accounts again; "
		            "codex-switch never overwrites a file it cannot read");
		return;
	}
	if (s.n == 0) {
		doctor_hint(doctor_add(d, DOCTOR_WARN, "accounts", "no account is stored"),
		            "codex-switch import <name>, or codex-switch login <name>");
	} else {
		check_accounts(d, &s);
	}
	store_release(&s);
}

static void auth_owner(struct doctor *d, const struct account *cur)
{
	struct store s;
	char err[1024], label[256];
	long i;

	if (store_load(d->paths, &s, err, sizeof(err)) != 0) {
		return; /* reported by the store check */
	}
	i = store_find_identity(&s, cur);
	if (i < 0) {
		doctor_hint(doctor_add(d, DOCTOR_WARN, "auth.json",
		                       "'%s' holds an account that is not stored (%s)",
		                       d->paths->auth_json, cur->email ? cur->email : "no email"),
		            "'codex-switch run', 'switch' or 'auto-switch' store it by themselves; "
		            "'codex-switch import <name>' stores it under a name you choose");
	} else {
		account_label(&s.accounts[i], label, sizeof(label));
		doctor_add(d, DOCTOR_PASS, "auth.json", "'%s' holds %s, the current account",
		           d->paths->auth_json, label);
	}
	store_release(&s);
}

void doctor_check_auth(struct doctor *d)
{
	const char *path = d->paths->auth_json;
	struct account cur = {0};
	struct stat st;
	char err[1024];
	int r;

	check_leftovers(d, "auth.json", path);
	if (stat(path, &st) != 0) {
		doctor_hint(doctor_add(d, DOCTOR_WARN, "auth.json",
		                       "'%s' does not exist: plain codex "
		                       "is logged out",
		                       path),
		            "codex-switch switch <account>");
		return;
	}
	if (check_mode(d, "auth.json", path, 0600, &st)) {
		doctor_add(d, DOCTOR_PASS, "auth.json", "'%s' is private (0600)", path);
	}
	r = authjson_read(path, &cur, err, sizeof(err));
	if (r == -ENOTSUP) {
		doctor_hint(doctor_add(d, DOCTOR_WARN, "auth.json", "%s", err),
		            "codex-switch switch <account> to use a stored account");
	} else if (r) {
		doctor_hint(doctor_add(d, DOCTOR_FAIL, "auth.json", "%s", err),
		            "codex-switch switch <account> rewrites it, or run 'codex login'");
	} else {
		auth_owner(d, &cur);
	}
	account_release(&cur);
}

static void check_log_files(struct doctor *d, const char *dir)
{
	time_t cutoff = time(NULL) - (time_t)RUNLOG_KEEP_DAYS * 86400;
	size_t n, old = 0, open_mode = 0;
	char **names, path[4096];
	struct stat st;

	if (runlog_list(dir, &names, &n) != 0) {
		doctor_hint(doctor_add(d, DOCTOR_FAIL, "logs", "cannot read '%s'", dir),
		            "chmod 700 '%s'", dir);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (lstat(path, &st) == 0) {
			old += st.st_mtime < cutoff;
			open_mode += (st.st_mode & 077) != 0;
		}
	}
	runlog_free_names(names);
	if (open_mode) {
		doctor_hint(doctor_add(d, DOCTOR_FAIL, "logs",
		                       "%zu logs in '%s' are readable by "
		                       "others",
		                       open_mode, dir),
		            "chmod 600 '%s'/" RUNLOG_PREFIX "*", dir);
	}
	if (old) {
		doctor_hint(doctor_add(d, DOCTOR_WARN, "logs", "%zu logs are older than %d days",
		                       old, RUNLOG_KEEP_DAYS),
		            "codex-switch logs prune");
	}
	if (!open_mode && !old) {
		doctor_add(d, DOCTOR_PASS, "logs", "'%s' holds %zu run logs", dir, n);
	}
}

void doctor_check_logs(struct doctor *d)
{
	const char *dir = d->paths->logs_dir;
	struct stat st;

	if (stat(dir, &st) != 0) {
		doctor_add(d, DOCTOR_PASS, "logs",
		           "no run log yet ('%s' is created by the first "
		           "run)",
		           dir);
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		doctor_hint(doctor_add(d, DOCTOR_FAIL, "logs", "'%s' is not a directory", dir),
		            "move it away; 'codex-switch run' creates the directory");
		return;
	}
	if (!check_mode(d, "logs", dir, 0700, &st)) {
		return;
	}
	if (access(dir, W_OK) != 0) {
		doctor_hint(doctor_add(d, DOCTOR_FAIL, "logs", "'%s' is not writable", dir),
		            "chmod 700 '%s'", dir);
		return;
	}
	check_log_files(d, dir);
}
