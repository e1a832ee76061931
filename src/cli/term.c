#include "cli/term.h"

#include "base/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define TERM_MIN_WIDTH 20

bool term_is_tty(FILE *f)
{
	return f && isatty(fileno(f));
}

bool term_color(FILE *f)
{
	const char *no = getenv("NO_COLOR"), *term = getenv("TERM");

	if (!term_is_tty(f) || (no && *no)) {
		return false;
	}
	return !term || strcmp(term, "dumb") != 0;
}

int term_width(FILE *f)
{
	struct winsize ws;
	const char *cols = getenv("COLUMNS");
	long w = 0;

	if (!term_is_tty(f)) {
		return 0;
	}
	if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
		w = ws.ws_col;
	} else if (cols && *cols) {
		w = strtol(cols, NULL, 10);
	}
	if (w <= 0) {
		w = 80;
	}
	return w < TERM_MIN_WIDTH ? TERM_MIN_WIDTH : (int)w;
}

const char *term_sgr(FILE *f, enum term_style style)
{
	static const char *const codes[] = {
	        [TERM_RESET] = "\033[0m", [TERM_BOLD] = "\033[1m",   [TERM_DIM] = "\033[2m",
	        [TERM_RED] = "\033[31m",  [TERM_GREEN] = "\033[32m", [TERM_YELLOW] = "\033[33m",
	};

	return term_color(f) ? codes[style] : "";
}

enum term_style term_percent_style(double used)
{
	return used >= 90.0 ? TERM_RED : used >= 70.0 ? TERM_YELLOW : TERM_GREEN;
}

static bool utf8_locale(void)
{
	const char *v = getenv("LC_ALL");

	if (!v || !*v) {
		v = getenv("LC_CTYPE");
	}
	if (!v || !*v) {
		v = getenv("LANG");
	}
	return util_contains_icase(v, "utf-8") || util_contains_icase(v, "utf8");
}

void term_bar(FILE *f, double used, int cells, char *out, size_t outsz)
{
	int full = (int)lround((used < 0 ? 0 : used > 100 ? 100 : used) * cells / 100.0);
	bool colour = term_color(f), blocks = colour && utf8_locale();
	size_t o = 0;

	out[0] = '\0';
	o += (size_t)snprintf(out, outsz, "%s%s",
	                      colour ? term_sgr(f, term_percent_style(used)) : "",
	                      blocks ? "" : "[");
	for (int i = 0; i < cells && o < outsz; i++) {
		const char *cell = i < full ? (blocks ? "\u2588" : "#") : (blocks ? "\u2591" : "-");
		o += (size_t)snprintf(out + o, outsz - o, "%s", cell);
	}
	if (o < outsz) {
		snprintf(out + o, outsz - o, "%s%s", blocks ? "" : "]",
		         colour ? term_sgr(f, TERM_RESET) : "");
	}
}

/* Length of the escape sequence at s ("\033[...m"), or 0. */
static size_t escape_len(const char *s)
{
	size_t n = 2;

	if (s[0] != '\033' || s[1] != '[') {
		return 0;
	}
	while (s[n] && (s[n] < 0x40 || s[n] > 0x7e)) {
		n++;
	}
	return s[n] ? n + 1 : n;
}

size_t term_fit(const char *s, int width)
{
	size_t i = 0;
	int cols = 0;

	if (width <= 0) {
		return strlen(s);
	}
	while (s[i]) {
		size_t e = escape_len(s + i);
		if (e) {
			i += e;
			continue;
		}
		if (cols == width) {
			break;
		}
		cols++;
		/* Skip the continuation bytes of a UTF-8 sequence with its lead byte. */
		do {
			i++;
		} while ((s[i] & 0xc0) == 0x80);
	}
	return i;
}

void term_put_line(FILE *f, const char *line)
{
	int width = term_width(f);
	const char *reset = strchr(line, '\033') ? term_sgr(f, TERM_RESET) : "";

	if (width <= 0 || term_fit(line, width) == strlen(line)) {
		fprintf(f, "%s%s\n", line, reset);
		return;
	}
	fprintf(f, "%.*s%s~\n", (int)term_fit(line, width - 1), line, reset);
}
