/*
** dl_rng.h: the machine's seeded random number generator (xoshiro256**).
** One generator per machine, seeded once: the same seed gives the same run.
*/
#ifndef DL_RNG_H
#define DL_RNG_H

#include <stdint.h>

typedef struct dl_rng { uint64_t s[4]; } dl_rng;

/* Seeds the generator; every seed, 0 included, gives a valid state. */
void dl_rng_seed(dl_rng *rng, uint64_t seed);

/* Returns the next 64 random bits. */
uint64_t dl_rng_next(dl_rng *rng);

/* Returns a uniform integer in [0, n); n must be > 0. */
uint64_t dl_rng_below(dl_rng *rng, uint64_t n);

#endif
