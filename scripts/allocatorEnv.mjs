// How the server process is started, for its memory: glibc malloc settings that `npm start`, the
// test and bench servers and `npm run cluster:local` all pass (an operator's own values win).
//
// Why: a burst of large snapshots (issue 9's render-history attack: 4 rooms × 40 frames at 1024²)
// is decoded on libuv's threads and rendered on engine threads, each of which glibc gives an
// arena of its own (up to 8 per core), and it keeps multi-megabyte image buffers on the heap once
// its dynamic mmap threshold has risen to their size. Freed, that memory stays in the process:
// measured on this 2-core machine, RSS grew 115–180 MB during the attack and stayed 21–27 % above
// its baseline afterwards. With two arenas and buffers of 1 MB and more always mmapped (so freeing
// one returns it to the system at once), it grew 59–79 MB and came back within 2–6 %
// (docs/BENCHMARKS.md, "Abuse"). Other C libraries ignore these variables.
export const ALLOCATOR_ENV = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '1048576',
};
