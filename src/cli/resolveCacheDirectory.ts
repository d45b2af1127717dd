// Where the command line keeps caches: --cache-dir, else KV_DISTILL_CACHE_DIR, else
// $XDG_CACHE_HOME/kv-distill, else ~/.cache/kv-distill.
import path from "node:path";
import {UsageError} from "../common/errors";
import type {KvDistillEnvironment} from "../common/environment";

export function resolveCacheDirectory(flagValue: string | undefined, environment: KvDistillEnvironment): string {
    if (flagValue !== undefined && flagValue !== "")
        return path.resolve(flagValue);
    if (environment.cacheDir !== undefined)
        return path.resolve(environment.cacheDir);
    if (environment.xdgCacheHome !== undefined)
        return path.join(path.resolve(environment.xdgCacheHome), "kv-distill");
    if (environment.home !== undefined)
        return path.join(environment.home, ".cache", "kv-distill");
    throw new UsageError("no cache folder: pass --cache-dir or set KV_DISTILL_CACHE_DIR");
}
