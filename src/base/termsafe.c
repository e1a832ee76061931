#include "base/termsafe.h"

bool termsafe_is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

bool termsafe_has_control(const char *s)
{
	for (; s && *s; s++) {
		if (termsafe_is_control((unsigned char)*s)) {
			return true;
		}
	}
	return false;
}

void termsafe_replace(char *s)
{
	for (; s && *s; s++) {
		if (termsafe_is_control((unsigned char)*s)) {
			*s = '?';
		}
	}
}

void termsafe_copy(char *out, size_t outsz, const char *s, size_t max)
{
	size_t i = 0;

	for (; s && s[i] && i < max && i + 1 < outsz; i++) {
		unsigned char c = (unsigned char)s[i];
		out[i] = termsafe_is_control(c) ? '?' : (char)c;
	}
	out[i] = '\0';
}
