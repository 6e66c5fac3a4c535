/* Cross-check only (see README.md). */
#include <stddef.h>
void abort(void);
