/*
 * How output looks on a terminal and in a pipe. On a terminal: colours and usage bars, tables
 * clipped to its width. Piped, with NO_COLOR set (non-empty) or TERM=dumb: plain text with no
 * escape sequences, nothing clipped, so scripts and `grep` see every byte.
 */
#ifndef CS_TERM_H
#define CS_TERM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum term_style {
	TERM_RESET,
	TERM_BOLD,
	TERM_DIM,
	TERM_RED,
	TERM_GREEN,
	TERM_YELLOW,
};

/* True when f is a terminal. */
bool term_is_tty(FILE *f);

/* True when f is a terminal and neither NO_COLOR (non-empty) nor TERM=dumb say otherwise. */
bool term_color(FILE *f);

/*
 * Columns of the terminal f is, or 0 when f is not a terminal (then nothing is clipped).
 * $COLUMNS is used when the terminal does not say; at least 20.
 */
int term_width(FILE *f);

/* The escape sequence for style on f, or "" when f gets no colours. Static string. */
const char *term_sgr(FILE *f, enum term_style style);

/* The colour of a usage percentage: green below 70, yellow below 90, red from 90. */
enum term_style term_percent_style(double used_percent);

/*
 * A usage bar of cells cells for used_percent into out: coloured blocks on a colour terminal
 * ("█" and "░" in a UTF-8 locale), else "[####------]". out holds >= 16 * cells bytes.
 */
void term_bar(FILE *f, double used_percent, int cells, char *out, size_t outsz);

/*
 * Bytes of s that fit in width columns (UTF-8 sequences count as one column; escape sequences
 * as none). width <= 0 means no limit: strlen(s).
 */
size_t term_fit(const char *s, int width);

/*
 * Prints line (no newline in it) to f, clipped to the terminal width, then a newline. A clipped
 * line ends in "~" so the reader sees it was cut; a colour reset follows when f has colours.
 */
void term_put_line(FILE *f, const char *line);

#endif
