// npm run test:native [-- --skip-if-no-build]
// Runs the patch series' C++ tests (llama.cpp style, built here against the patched build's libraries) and the
// TypeScript tests of the patched functions (out/test/native, compiled by `npm run compile-tests`).
// Without a current patched CPU build it fails, unless --skip-if-no-build is given.
import {existsSync} from "node:fs";
import {stat} from "node:fs/promises";
import path from "node:path";
import {NativeBuildError, describeBuild, ensureDirectory, llamaCppDirectory, localBuildsDirectory, repositoryRoot, run} from "./nativePatches.mjs";

const skipIfNoBuild = process.argv.includes("--skip-if-no-build");
const testsBuildDirectory = path.join(repositoryRoot, "native", "build", "tests");
const fixturesDirectory = path.join(repositoryRoot, "native", "build", "fixtures");

function log(message) {
    console.log(`[test:native] ${message}`);
}

async function isNewer(file, than) {
    return existsSync(file) && (!existsSync(than) || (await stat(file)).mtimeMs > (await stat(than)).mtimeMs);
}

async function main() {
    const build = await describeBuild("false");
    if (!build.current) {
        const problem = build.stamp == null
            ? "There is no patched llama.cpp CPU build"
            : "The patched llama.cpp CPU build is stale (the patches, versions or build options changed since it was built)";
        if (skipIfNoBuild) {
            log(`SKIPPED: ${problem}. Run \`npm run build:native\` to test the native patches.`);
            return;
        }
        throw new NativeBuildError(`${problem}. Run \`npm run build:native\` first (several minutes), ` +
            "or `npm run test:native -- --skip-if-no-build` to skip these tests explicitly.");
    }

    const libraryDirectory = path.join(localBuildsDirectory, build.stamp.buildFolder, "Release");
    const cppTests = [...new Set(build.manifest.patches.map((patch) => patch.cppTest).filter((test) => test != null))];

    log(`Building ${cppTests.length} C++ test(s) against ${path.relative(repositoryRoot, libraryDirectory)}`);
    await ensureDirectory(testsBuildDirectory);
    await run("cmake", [
        "-S", path.join(repositoryRoot, "native", "tests"), "-B", testsBuildDirectory, "-DCMAKE_BUILD_TYPE=Release",
        `-DLLAMA_CPP_DIR=${llamaCppDirectory}`, `-DLLAMA_LIB_DIR=${libraryDirectory}`, `-DKV_DISTILL_TESTS=${cppTests.join(";")}`
    ]);
    await run("cmake", ["--build", testsBuildDirectory, "--parallel", "2"]);

    let failures = 0;
    for (const test of cppTests) {
        const startedAt = Date.now();
        try {
            const output = await run(path.join(testsBuildDirectory, test), []);
            log(`PASS ${test} (${Date.now() - startedAt} ms)`);
            if (process.argv.includes("--verbose"))
                console.log(output);
        } catch (error) {
            failures++;
            log(`FAIL ${test}\n${error.message}`);
        }
    }

    // the fixtures of the TypeScript tests: the C++ tests' tiny model and scoring adapters
    const model = path.join(fixturesDirectory, "tiny-llama.gguf");
    const generator = path.join(testsBuildDirectory, "kv-distill-make-tiny-model");
    if (await isNewer(generator, model)) {
        await ensureDirectory(fixturesDirectory);
        await run(generator, [fixturesDirectory]);
        log(`Wrote the fixtures to ${path.relative(repositoryRoot, fixturesDirectory)}`);
    }

    // one test file at a time: the fallback test hides the patched build from node-llama-cpp while it runs
    const typeScriptTests = path.join(repositoryRoot, "out", "test", "native");
    if (!existsSync(typeScriptTests))
        throw new NativeBuildError("out/test/native is missing: run `npm run compile-tests` first (npm run test:native does)");
    try {
        await run(process.execPath, ["--test", "--test-concurrency=1", "--test-reporter=spec", typeScriptTests], {echo: true});
    } catch {
        failures++;
    }

    if (failures > 0)
        throw new NativeBuildError(`${failures} native test suite(s) failed`);
    log("All native tests passed");
}

main().catch((error) => {
    console.error(`[test:native] ${error instanceof NativeBuildError ? error.message : error?.stack ?? error}`);
    process.exitCode = 1;
});
