/* Cross-check only (see README.md): assertions compile to nothing. */
#define assert(condition) ((void)0)
