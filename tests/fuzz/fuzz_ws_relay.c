/*
 * The proxy's forwarding logic (proxy_relay.c) fed with arbitrary fragment sequences from both
 * sides, with the lws calls it makes replaced by stubs below (the executable's definitions win
 * over the shared library's). Hooks behave like the runtime's: they parse what they intercept,
 * drop the refresh requests and answer them, and inject a warning.
 *
 * Checked on every input: each side receives exactly the messages the other side sent, byte for
 * byte, in order, with their text/binary type and intact framing, minus the ones a hook dropped,
 * plus the ones a hook injected, whole and never inside another message.
 *
 * Input: byte 0 chooses the mode (bit 0: control connection); then records of
 * [flags][len][len bytes], flags bit 0 = from the app-server, bit 1 = final fragment, bit 2 =
 * binary (first fragment only), bit 3 = let the destination write now, bit 4 = the bytes
 * repeated 1024 times (to reach the size limits with small inputs).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "proxy_int.h"
#include "trigger.h"

#define MAX_MESSAGE (3 * 1024 * 1024 / 2)
#define REPEAT      1024
#define MAX_MSGS    256

struct msg {
	unsigned char *data;
	size_t len, cap;
	bool binary;
	bool done;
};

/* Per destination side: what must arrive (sent or injected) and what did arrive. */
struct lane {
	struct msg expect[MAX_MSGS];
	size_t nexpect;
	struct msg got[MAX_MSGS];
	size_t ngot;
	const char *injected[MAX_MSGS]; /* borrowed literals, in injection order */
	size_t ninjected;
	bool truncated; /* more messages than tracked: stop checking this lane */
};

static struct {
	char wsi_mem[2];
	bool binary, final;
	struct lane lane[2];
	struct proxy_conn *c;
	size_t open_expect[2]; /* index in lane[!src].expect of the message being sent by src */
	bool sending[2];
} st;

static int side_of(struct lws *wsi)
{
	return wsi == (struct lws *)&st.wsi_mem[SIDE_UP];
}

/* ---- lws stubs ---- */

int lws_frame_is_binary(struct lws *wsi)
{
	return st.binary;
}

int lws_is_final_fragment(struct lws *wsi)
{
	return st.final;
}

int lws_rx_flow_control(struct lws *wsi, int enable)
{
	return 0;
}

int lws_callback_on_writable(struct lws *wsi)
{
	return 1;
}

void lws_close_reason(struct lws *wsi, enum lws_close_status status, unsigned char *buf, size_t len)
{
}

void lws_set_timeout(struct lws *wsi, enum pending_timeout reason, int secs)
{
}

void lws_sul_cancel(lws_sorted_usec_list_t *sul)
{
}

static void grow(struct msg *m, const unsigned char *p, size_t n)
{
	unsigned char *d;

	if (m->len + n + 1 > m->cap) {
		m->cap = 2 * (m->len + n + 1);
		d = realloc(m->data, m->cap);
		if (!d) {
			abort();
		}
		m->data = d;
	}
	if (n) {
		memcpy(m->data + m->len, p, n);
	}
	m->len += n;
}

int lws_write(struct lws *wsi, unsigned char *buf, size_t len, enum lws_write_protocol wp)
{
	struct lane *l = &st.lane[side_of(wsi)];
	int op = (int)wp & 0x3f;
	struct msg *m;

	if (op == LWS_WRITE_TEXT || op == LWS_WRITE_BINARY) {
		if (l->ngot && !l->got[l->ngot - 1].done) {
			abort(); /* a new message inside an unfinished one */
		}
		if (l->ngot == MAX_MSGS) {
			l->truncated = true;
			l->ngot = 0;
		}
		l->got[l->ngot++] = (struct msg){.binary = op == LWS_WRITE_BINARY};
	} else if (op != LWS_WRITE_CONTINUATION || !l->ngot || l->got[l->ngot - 1].done) {
		abort(); /* a continuation without an open message */
	}
	m = &l->got[l->ngot - 1];
	grow(m, buf, len);
	m->done = !((int)wp & LWS_WRITE_NO_FIN);
	return (int)len;
}

/* ---- expected messages ---- */

static struct msg *expect_new(int dst, bool binary)
{
	struct lane *l = &st.lane[dst];

	if (l->nexpect == MAX_MSGS) {
		l->truncated = true;
		return NULL;
	}
	l->expect[l->nexpect] = (struct msg){.binary = binary};
	return &l->expect[l->nexpect++];
}

static void inject(int dst, const char *json)
{
	struct lane *l = &st.lane[dst];
	int r = dst == SIDE_UP ? proxy_send_to_server(st.c, json, strlen(json))
	                       : proxy_send_to_client(st.c, json, strlen(json));

	if (r == 0 && l->ninjected < MAX_MSGS) {
		l->injected[l->ninjected++] = json;
	} else if (r == 0) {
		l->truncated = true;
	}
}

/* ---- hooks, shaped like the runtime's ---- */

static void drop_expected(int src)
{
	struct lane *l = &st.lane[!src];

	if (st.sending[src] && !l->truncated) {
		l->expect[st.open_expect[src]].len = (size_t)-1; /* marked dropped */
	}
}

static enum proxy_verdict on_server(void *ctx, struct proxy_conn *c, const struct jsonrpc_head *h,
                                    const char *json, size_t len)
{
	cJSON *o = cJSON_ParseWithLength(json, len);
	struct trigger t;

	if (strlen(json) != len && memchr(json, '\0', len) == NULL) {
		abort();
	}
	if (strcmp(h->method, "account/chatgptAuthTokens/refresh") == 0 && h->id[0]) {
		drop_expected(SIDE_UP);
		if (!c->control) {
			inject(SIDE_UP, "{\"id\":0,\"result\":{\"accessToken\":\"t\"}}");
		}
		cJSON_Delete(o);
		return PROXY_DROP;
	}
	if (o && strcmp(h->method, "error") == 0) {
		trigger_from_error(cJSON_GetObjectItemCaseSensitive(o, "params"), &t);
		if (!c->control) {
			inject(SIDE_DOWN,
			       "{\"method\":\"warning\",\"params\":{\"message\":\"m\"}}");
		}
	} else if (o) {
		trigger_from_rate_limits(cJSON_GetObjectItemCaseSensitive(o, "params"), &t);
	}
	cJSON_Delete(o);
	if (c->control) {
		drop_expected(SIDE_UP);
		return PROXY_DROP;
	}
	return PROXY_FORWARD;
}

static enum proxy_verdict on_client(void *ctx, struct proxy_conn *c, const struct jsonrpc_head *h,
                                    const char *json, size_t len)
{
	return PROXY_FORWARD;
}

static const char *const server_methods[] = {"error", "account/rateLimits/updated",
                                             "account/chatgptAuthTokens/refresh", NULL};
static const char *const client_methods[] = {"turn/start", NULL};
static const struct proxy_hooks hooks = {.server_message = on_server, .client_message = on_client};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

/* ---- driver ---- */

static void drain(int side)
{
	for (int i = 0; i < 100000 && wsq_ready(&st.c->q[side]); i++) {
		if (proxy_relay_writeable(st.c, side, (struct lws *)&st.wsi_mem[side]) < 0) {
			return;
		}
	}
}

static int feed(int src, const unsigned char *p, size_t n, bool final, bool binary)
{
	int dst = !src;
	struct msg *m;

	if (!st.sending[src]) {
		m = expect_new(dst, binary);
		st.sending[src] = m != NULL;
		st.open_expect[src] = m ? st.lane[dst].nexpect - 1 : 0;
	}
	if (st.sending[src] && st.lane[dst].expect[st.open_expect[src]].len != (size_t)-1) {
		m = &st.lane[dst].expect[st.open_expect[src]];
		grow(m, p, n);
		m->done = final;
	}
	st.binary = binary;
	st.final = final;
	if (proxy_relay_receive(st.c, src, p, n, binary, final) < 0) {
		return -1;
	}
	if (final) {
		st.sending[src] = false;
	}
	return 0;
}

/* lws hands a big frame over in chunks of at most its receive buffer; so does this. */
static int feed_record(int src, const unsigned char *p, size_t n, unsigned flags)
{
	unsigned char *big = NULL;
	size_t off = 0;
	int r = 0;

	if ((flags & 16) && n) {
		n = n < 1024 ? n : 1024;
		big = malloc(n * REPEAT);
		if (!big) {
			abort();
		}
		for (size_t i = 0; i < REPEAT; i++) {
			memcpy(big + i * n, p, n);
		}
		p = big;
		n *= REPEAT;
	}
	do {
		size_t k = n - off < PROXY_TX_CHUNK ? n - off : PROXY_TX_CHUNK;
		r = feed(src, p + off, k, (flags & 2) && off + k == n, flags & 4);
		off += k;
	} while (r == 0 && off < n);
	free(big);
	return r;
}

static bool same(const struct msg *a, const struct msg *b)
{
	return a->binary == b->binary && a->len == b->len &&
	       (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static bool is_injected(struct lane *l, const struct msg *g)
{
	for (size_t i = 0; i < l->ninjected; i++) {
		if (l->injected[i] && !g->binary && g->len == strlen(l->injected[i]) &&
		    memcmp(g->data, l->injected[i], g->len) == 0) {
			l->injected[i] = NULL;
			return true;
		}
	}
	return false;
}

/* The delivered messages are the sent ones in order (dropped ones skipped), with the injected
 * ones whole somewhere in between. Injected messages wait for a streamed message to end, so they
 * must all be out only when no message toward dst is left open. */
static void verify(int dst, bool stopped)
{
	struct lane *l = &st.lane[dst];
	bool open = false;
	size_t e = 0;

	if (l->truncated || stopped) {
		return;
	}
	for (size_t g = 0; g < l->ngot; g++) {
		while (e < l->nexpect && l->expect[e].len == (size_t)-1) {
			e++;
		}
		if (!l->got[g].done) {
			open = true;
			e++;
		} else if (e < l->nexpect && l->expect[e].done && same(&l->got[g], &l->expect[e])) {
			e++;
		} else if (!is_injected(l, &l->got[g])) {
			abort(); /* changed on the way, out of order, or nobody sent it */
		}
	}
	for (; e < l->nexpect; e++) {
		if (l->expect[e].len != (size_t)-1 && l->expect[e].done) {
			abort(); /* a whole message that never arrived */
		}
		open = open || l->expect[e].len != (size_t)-1;
	}
	for (size_t i = 0; i < l->ninjected && !open; i++) {
		if (l->injected[i]) {
			abort(); /* an injected message was lost */
		}
	}
}

static void reset(void)
{
	for (int s = 0; s < 2; s++) {
		struct lane *l = &st.lane[s];
		for (size_t i = 0; i < l->nexpect; i++) {
			free(l->expect[i].data);
		}
		for (size_t i = 0; i < l->ngot; i++) {
			free(l->got[i].data);
		}
	}
	memset(&st, 0, sizeof(st));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy p;
	bool control, stopped = false;
	size_t pos = 1;

	if (size < 1) {
		return 0;
	}
	reset();
	memset(&p, 0, sizeof(p));
	control = data[0] & 1;
	p.cfg.max_message = MAX_MESSAGE;
	p.cfg.max_queued = 64 * 1024 * 1024;
	p.cfg.server_methods = server_methods;
	p.cfg.client_methods = client_methods;
	p.cfg.internal_id_prefix = "codex-switch/";
	p.cfg.hooks = &hooks;
	/* proxy_create allocates it in the real proxy: coalesced small frames go through it. */
	p.txbuf = malloc(LWS_PRE + PROXY_TX_CHUNK);
	st.c = proxy_relay_new(&p, control);
	if (!st.c) {
		abort();
	}
	st.c->wsi[SIDE_UP] = (struct lws *)&st.wsi_mem[SIDE_UP];
	st.c->wsi[SIDE_DOWN] = control ? NULL : (struct lws *)&st.wsi_mem[SIDE_DOWN];
	st.c->up_established = true;
	st.c->opened = true;
	while (!stopped && pos + 3 <= size) {
		unsigned flags = data[pos];
		size_t n = (size_t)data[pos + 1] << 8 | data[pos + 2];
		int src = control ? SIDE_UP : (int)(flags & 1);

		pos += 3;
		n = n < size - pos ? n : size - pos;
		stopped = feed_record(src, data + pos, n, flags) < 0;
		pos += n;
		if (flags & 8) {
			drain(!src);
		}
	}
	drain(SIDE_UP);
	if (!control) {
		drain(SIDE_DOWN);
	}
	verify(SIDE_UP, stopped);
	verify(SIDE_DOWN, stopped || control);
	if (control && st.lane[SIDE_DOWN].ngot) {
		abort();
	}
	st.c->wsi[SIDE_UP] = st.c->wsi[SIDE_DOWN] = NULL;
	proxy_relay_free(st.c);
	free(p.txbuf);
	reset();
	return 0;
}
