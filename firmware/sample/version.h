/* Release identification of the sample firmware. */
#ifndef SAMPLE_VERSION_H
#define SAMPLE_VERSION_H

#ifndef SAMPLE_VERSION
#error "SAMPLE_VERSION must be defined (1, 2 or 3)"
#endif

#define SAMPLE_VERSION_MAJOR 1
#define SAMPLE_VERSION_MINOR (SAMPLE_VERSION - 1)
#define SAMPLE_VERSION_PATCH 0

#if SAMPLE_VERSION == 1
#define SAMPLE_VERSION_STRING "1.0.0"
#elif SAMPLE_VERSION == 2
#define SAMPLE_VERSION_STRING "1.1.0"
#elif SAMPLE_VERSION == 3
#define SAMPLE_VERSION_STRING "1.2.0"
#else
#error "unknown SAMPLE_VERSION"
#endif

#define SAMPLE_PRODUCT "dfota-sample"
#define SAMPLE_BOARD "mps2-an386"

#endif
