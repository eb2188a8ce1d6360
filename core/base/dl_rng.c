/*
** dl_rng.c: xoshiro256** seeded through splitmix64 (Vigna's reference
** algorithms), chosen because it is fast, small and reproducible everywhere.
*/
#include "base/dl_rng.h"

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15u);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* Seeds the generator; every seed, 0 included, gives a valid state. */
void dl_rng_seed(dl_rng *rng, uint64_t seed) {
  for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&seed);
}

/* Returns the next 64 random bits. */
uint64_t dl_rng_next(dl_rng *rng) {
  uint64_t *s = rng->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

/* Returns a uniform integer in [0, n) by rejection (no modulo bias). */
uint64_t dl_rng_below(dl_rng *rng, uint64_t n) {
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do x = dl_rng_next(rng); while (x >= limit);
  return x % n;
}
