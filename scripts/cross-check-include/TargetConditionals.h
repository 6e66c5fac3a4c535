/* Cross-check only (see README.md): what the macOS SDK's header says for
   macOS itself. */
#define TARGET_OS_MAC 1
#define TARGET_OS_OSX 1
#define TARGET_OS_IPHONE 0
