/*
 * Terminal sanitising: a string from outside (an account name, a server's error, a file's
 * content) may carry escape sequences that move the cursor, retitle the window or hide text.
 * Every string that did not come from this program passes through here before it reaches a
 * terminal or a log line. What counts as a control character is decided only here.
 */
#ifndef CS_TERMSAFE_H
#define CS_TERMSAFE_H

#include <stdbool.h>
#include <stddef.h>

/* True for the bytes a terminal acts on instead of showing: C0 controls (ESC too) and DEL. */
bool termsafe_is_control(unsigned char c);

/* True when s (NULL: none) contains a control character. */
bool termsafe_has_control(const char *s);

/* Replaces every control character of s (NULL: nothing) with '?', in place. */
void termsafe_replace(char *s);

/*
 * Copies at most max bytes of s (NULL copies nothing) into out with every control character
 * replaced by '?'; stops early so out (outsz >= 1 bytes) always ends in a NUL.
 */
void termsafe_copy(char *out, size_t outsz, const char *s, size_t max);

#endif
