#!/bin/sh
# Builds shared across CI runners through ccache's remote storage (ccache >= 4.4; Debian
# bookworm has 4.7): two builds of one kernel config, each from an EMPTY local ccache,
# against one redis-server on 127.0.0.1. The first fills redis; the second plays another
# runner with the same layout and should get (nearly) every object from redis.
# Prints both builds' times, ccache's counts and the share of objects that came from redis.
# Usage: bench/ccache_remote.sh SRC SCRATCH [CONFIG_TARGET] [JOBS] [TARGET]
#   SRC: a kernel tree (read only; e.g. a checkout of the harness base)
#   SCRATCH: an empty dir for the build dirs, the ccache dirs and redis (never a cache
#   dir in use); CONFIG_TARGET defaults to tinyconfig, TARGET to vmlinux (a directory
#   such as lib/ builds that part only, with the prepare steps it needs).
# The build env is harness's (harness/build/make.py make_env): fixed KBUILD_BUILD_*
# identity and CCACHE_BASEDIR, so objects do not depend on the machine or the checkout.
set -eu
src=$1
scratch=$2
config=${3:-tinyconfig}
jobs=${4:-2}
target=${5:-vmlinux}
port=${REDIS_PORT:-6390}
mkdir -p "$scratch"
redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
	--dir "$scratch" >"$scratch/redis.log" 2>&1 &
redis=$!
trap 'kill "$redis" 2>/dev/null; wait "$redis" 2>/dev/null || true' EXIT INT TERM
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.2; done

export KBUILD_BUILD_TIMESTAMP=2024-01-01 KBUILD_BUILD_USER=harness KBUILD_BUILD_HOST=harness
export CCACHE_BASEDIR="$src" CCACHE_REMOTE_STORAGE="redis://127.0.0.1:$port"

build() { # $1: runner name
	export CCACHE_DIR="$scratch/ccache-$1"
	rm -rf "$scratch/build" "$CCACHE_DIR" # the same paths, an empty local cache
	ccache -z >/dev/null
	make -s -C "$src" O="$scratch/build" "$config" >/dev/null
	start=$(date +%s)
	make -s -C "$src" O="$scratch/build" -j"$jobs" CC="ccache gcc" HOSTCC="ccache gcc" \
		"$target" >"$scratch/build-$1.log" 2>&1
	end=$(date +%s)
	echo "== runner $1: $target ($config) in $((end - start)) s"
	ccache --print-stats | awk '
		{ s[$1] = $2 }
		END {
			calls = s["direct_cache_hit"] + s["preprocessed_cache_hit"] + s["cache_miss"]
			printf "   compilations %d, hits %d, misses %d, remote hits %d, remote errors %d\n",
				calls, calls - s["cache_miss"], s["cache_miss"], s["remote_storage_hit"],
				s["remote_storage_error"] + s["remote_storage_timeout"]
			printf "   objects from redis: %.1f %%\n", calls ? 100 * s["remote_storage_hit"] / calls : 0
		}'
}
build 1
build 2
echo "== redis keys: $(redis-cli -p "$port" dbsize)"
