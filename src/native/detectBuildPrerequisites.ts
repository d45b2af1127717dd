// What building the patched llama.cpp with a GPU backend needs on this machine, found the way the
// build will find it (PATH, CC/CXX, CUDA_PATH, VULKAN_SDK), each missing piece with a message that
// says what to install. Git is not needed: the sources are unpacked, not cloned.
import {execFile} from "node:child_process";
import {accessSync, constants, existsSync, readdirSync, realpathSync, statSync} from "node:fs";
import * as path from "node:path";

export type GpuBackendKind = "cuda" | "vulkan";

export type FoundTool = {name: string; path: string; version: string | undefined};

export type BuildPrerequisiteReport = {
    gpu: GpuBackendKind;
    /** True when everything the build needs was found. */
    ready: boolean;
    found: FoundTool[];
    /** One sentence per missing or unusable piece, saying what to install. */
    missing: string[];
    /** Things worth knowing that do not stop the build. */
    notes: string[];
    /** Folders to put first on the build's PATH (a toolkit found outside PATH). */
    extraPathDirectories: string[];
};

export type PrerequisiteSearchOptions = {
    env?: NodeJS.ProcessEnv;
    /** Where a CUDA toolkit is looked for when nvcc is not on PATH (besides CUDA_PATH, CUDA_HOME). */
    cudaToolkitDirectories?: readonly string[];
    /** Where the Vulkan headers (vulkan/vulkan.h) are looked for besides VULKAN_SDK. */
    includeDirectories?: readonly string[];
    /** Where the Vulkan loader (libvulkan.so) is looked for besides VULKAN_SDK. */
    libraryDirectories?: readonly string[];
    /** Files whose existence shows an NVIDIA GPU (besides `nvidia-smi -L` listing one). */
    nvidiaDeviceFiles?: readonly string[];
};

/** node-llama-cpp's CMakeLists.txt asks for 3.19; CUDA's "native" architecture needs 3.24. */
export const minimumCmakeVersion = [3, 19] as const;
const nativeCudaArchitectureCmakeVersion = [3, 24] as const;

const defaultCudaToolkitDirectories = ["/usr/local/cuda", "/opt/cuda"];
const defaultIncludeDirectories = ["/usr/include", "/usr/local/include"];
const defaultNvidiaDeviceFiles = ["/dev/nvidia0", "/proc/driver/nvidia/gpus"];
const defaultLibraryDirectories = ["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib", "/usr/lib/aarch64-linux-gnu"];

export async function detectBuildPrerequisites(gpu: GpuBackendKind, options: PrerequisiteSearchOptions = {}): Promise<BuildPrerequisiteReport> {
    const env = options.env ?? process.env;
    const found: FoundTool[] = [];
    const missing: string[] = [];
    const notes: string[] = [];
    const extraPathDirectories: string[] = [];

    const cmake = findExecutable("cmake", env);
    if (cmake === undefined)
        missing.push("CMake was not found on PATH: install CMake 3.19 or newer (for example `sudo apt install cmake`, or from cmake.org).");
    else {
        const version = await readVersion(cmake, ["--version"], /cmake version (\d+)\.(\d+)(?:\.(\d+))?/i, env);
        found.push({name: "cmake", path: cmake, version: version?.text});
        if (version === undefined)
            missing.push(`${cmake} did not report its version (\`cmake --version\` failed): reinstall CMake 3.19 or newer.`);
        else if (compareVersions(version.numbers, minimumCmakeVersion) < 0)
            missing.push(`CMake ${version.text} at ${cmake} is too old: the build needs 3.19 or newer.`);
        else if (gpu === "cuda" && compareVersions(version.numbers, nativeCudaArchitectureCmakeVersion) < 0)
            notes.push(`CMake ${version.text} is older than 3.24, so the build cannot pick this machine's GPU architecture and compiles CUDA code for several (slower).`);
    }

    const cCompiler = findCompiler(env.CC, ["cc", "gcc", "clang"], env);
    const cxxCompiler = findCompiler(env.CXX, ["c++", "g++", "clang++"], env);
    if (cCompiler === undefined)
        missing.push(env.CC === undefined || env.CC === ""
            ? "No C compiler was found (cc, gcc or clang on PATH): install one (for example `sudo apt install build-essential`)."
            : `The C compiler named by CC (${env.CC}) was not found.`);
    else
        found.push({name: "C compiler", path: cCompiler, version: (await readVersion(cCompiler, ["--version"], /(\d+)\.(\d+)(?:\.(\d+))?/, env))?.text});
    if (cxxCompiler === undefined)
        missing.push(env.CXX === undefined || env.CXX === ""
            ? "No C++ compiler was found (c++, g++ or clang++ on PATH): install one (for example `sudo apt install build-essential`)."
            : `The C++ compiler named by CXX (${env.CXX}) was not found.`);
    else
        found.push({name: "C++ compiler", path: cxxCompiler, version: (await readVersion(cxxCompiler, ["--version"], /(\d+)\.(\d+)(?:\.(\d+))?/, env))?.text});

    if (gpu === "cuda")
        await detectCuda(env, options, found, missing, extraPathDirectories);
    else
        detectVulkan(env, options, found, missing, extraPathDirectories);

    return {gpu, ready: missing.length === 0, found, missing, notes, extraPathDirectories};
}

async function detectCuda(env: NodeJS.ProcessEnv, options: PrerequisiteSearchOptions, found: FoundTool[], missing: string[], extraPathDirectories: string[]): Promise<void> {
    let nvcc = findExecutable("nvcc", env);
    if (nvcc === undefined) {
        const toolkitDirectories = [env.CUDA_PATH, env.CUDA_HOME, ...(options.cudaToolkitDirectories ?? defaultCudaToolkitDirectories)]
            .filter((directory): directory is string => directory !== undefined && directory !== "");
        for (const directory of toolkitDirectories) {
            const candidate = path.join(directory, "bin", "nvcc");
            if (isExecutableFile(candidate)) {
                nvcc = candidate;
                extraPathDirectories.push(path.dirname(candidate));
                break;
            }
        }
    }
    if (nvcc === undefined) {
        missing.push("The CUDA toolkit was not found (no nvcc on PATH, in CUDA_PATH or in /usr/local/cuda/bin): install the CUDA toolkit " +
            "12 or newer from developer.nvidia.com/cuda-downloads (the driver alone is not enough).");
        return;
    }
    const version = await readVersion(nvcc, ["--version"], /release (\d+)\.(\d+)/, env);
    found.push({name: "nvcc", path: nvcc, version: version?.text});
    if (version === undefined)
        missing.push(`${nvcc} did not report its version (\`nvcc --version\` failed): check the CUDA toolkit installation.`);
    else if (version.numbers[0]! < 11)
        missing.push(`CUDA toolkit ${version.text} at ${nvcc} is too old: llama.cpp needs CUDA 11.7 or newer (12 or newer recommended).`);

    // llama.cpp links cuBLAS; a toolkit with only the compiler fails at CMake's generate step.
    const toolkitRoots = [...new Set([
        path.dirname(path.dirname(realPathOf(nvcc))),
        ...[env.CUDA_PATH, env.CUDA_HOME].filter((directory): directory is string => directory !== undefined && directory !== ""),
        ...(options.cudaToolkitDirectories ?? defaultCudaToolkitDirectories),
        ...(version === undefined || options.cudaToolkitDirectories !== undefined ? [] : [`/usr/local/cuda-${version.text}`])
    ])];
    const headerFolders = [...new Set([
        ...toolkitRoots.flatMap((root) => [path.join(root, "include"), ...listTargetIncludeFolders(root)]),
        ...(options.includeDirectories ?? defaultIncludeDirectories)
    ])];
    const cublas = headerFolders.map((folder) => path.join(folder, "cublas_v2.h")).find((candidate) => existsSync(candidate));
    if (cublas === undefined)
        missing.push(`cuBLAS was not found (no cublas_v2.h in ${headerFolders.join(", ")}): install the CUDA toolkit's libraries ` +
            "(for example the cuda-libraries-dev package), not only the compiler.");
    else
        found.push({name: "cuBLAS headers", path: cublas, version: undefined});

    // The build compiles for the GPUs it sees (CMAKE_CUDA_ARCHITECTURES=native) unless told which.
    const architecturesGiven = (env.NODE_LLAMA_CPP_CMAKE_OPTION_CMAKE_CUDA_ARCHITECTURES ?? "") !== "";
    if (!architecturesGiven) {
        const gpu = await findNvidiaGpu(env, options.nvidiaDeviceFiles ?? defaultNvidiaDeviceFiles);
        if (gpu === undefined)
            missing.push("No NVIDIA GPU is visible (`nvidia-smi -L` lists none, no /dev/nvidia0): the build compiles for this machine's GPU " +
                "and the engine needs one. Install the NVIDIA driver, or set NODE_LLAMA_CPP_CMAKE_OPTION_CMAKE_CUDA_ARCHITECTURES to build for another machine.");
        else
            found.push({name: "NVIDIA GPU", path: gpu.path, version: gpu.name});
    }
}

function realPathOf(file: string): string {
    try {
        return realpathSync(file);
    } catch {
        return file;
    }
}

function listTargetIncludeFolders(root: string): string[] {
    try {
        return readdirSync(path.join(root, "targets")).map((target) => path.join(root, "targets", target, "include"));
    } catch {
        return [];
    }
}

async function findNvidiaGpu(env: NodeJS.ProcessEnv, deviceFiles: readonly string[]): Promise<{path: string; name: string | undefined} | undefined> {
    const nvidiaSmi = findExecutable("nvidia-smi", env);
    if (nvidiaSmi !== undefined) {
        const listing = await new Promise<string>((resolve) => {
            execFile(nvidiaSmi, ["-L"], {env, timeout: 15_000}, (error, stdout) => resolve(error === null ? stdout : ""));
        });
        const first = /^GPU \d+: (.+?)(?: \(UUID|$)/m.exec(listing);
        if (first !== null)
            return {path: nvidiaSmi, name: first[1]};
    }
    const deviceFile = deviceFiles.find((file) => {
        try {
            return !statSync(file).isDirectory() || readdirSync(file).length > 0;
        } catch {
            return false;
        }
    });
    return deviceFile === undefined ? undefined : {path: deviceFile, name: undefined};
}

function detectVulkan(env: NodeJS.ProcessEnv, options: PrerequisiteSearchOptions, found: FoundTool[], missing: string[], extraPathDirectories: string[]): void {
    const sdk = env.VULKAN_SDK !== undefined && env.VULKAN_SDK !== "" ? env.VULKAN_SDK : undefined;
    let glslc = findExecutable("glslc", env);
    if (glslc === undefined && sdk !== undefined && isExecutableFile(path.join(sdk, "bin", "glslc"))) {
        glslc = path.join(sdk, "bin", "glslc");
        extraPathDirectories.push(path.join(sdk, "bin"));
    }
    if (glslc === undefined)
        missing.push("glslc (the Vulkan shader compiler) was not found on PATH or in $VULKAN_SDK/bin: install the Vulkan SDK " +
            "or your distribution's glslc package (for example `sudo apt install glslc`).");
    else
        found.push({name: "glslc", path: glslc, version: undefined});

    const includeDirectories = [...(sdk === undefined ? [] : [path.join(sdk, "include")]), ...(options.includeDirectories ?? defaultIncludeDirectories)];
    const header = includeDirectories.map((directory) => path.join(directory, "vulkan", "vulkan.h")).find((candidate) => existsSync(candidate));
    if (header === undefined)
        missing.push("The Vulkan headers (vulkan/vulkan.h) were not found: install the Vulkan SDK or `sudo apt install libvulkan-dev`.");
    else
        found.push({name: "Vulkan headers", path: header, version: undefined});

    const libraryDirectories = [...(sdk === undefined ? [] : [path.join(sdk, "lib")]), ...(options.libraryDirectories ?? defaultLibraryDirectories)];
    const loader = libraryDirectories.flatMap((directory) => ["libvulkan.so", "libvulkan.so.1"].map((name) => path.join(directory, name)))
        .find((candidate) => existsSync(candidate));
    if (loader === undefined)
        missing.push("The Vulkan loader (libvulkan.so) was not found: install the Vulkan SDK or `sudo apt install libvulkan-dev`.");
    else
        found.push({name: "Vulkan loader", path: loader, version: undefined});
}

/** The first executable file called `name` in the env's PATH folders. */
export function findExecutable(name: string, env: NodeJS.ProcessEnv): string | undefined {
    if (name.includes(path.sep))
        return isExecutableFile(name) ? name : undefined;
    for (const directory of (env.PATH ?? "").split(path.delimiter)) {
        if (directory === "")
            continue;
        const candidate = path.join(directory, name);
        if (isExecutableFile(candidate))
            return candidate;
    }
    return undefined;
}

function findCompiler(named: string | undefined, candidates: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
    // CC/CXX may carry flags ("gcc -m64"); the program is the first word.
    if (named !== undefined && named.trim() !== "")
        return findExecutable(named.trim().split(/\s+/)[0]!, env);
    for (const candidate of candidates) {
        const found = findExecutable(candidate, env);
        if (found !== undefined)
            return found;
    }
    return undefined;
}

function isExecutableFile(candidate: string): boolean {
    try {
        if (!statSync(candidate).isFile())
            return false;
        accessSync(candidate, constants.X_OK);
        return true;
    } catch {
        return false;
    }
}

type Version = {text: string; numbers: number[]};

function readVersion(executable: string, args: readonly string[], pattern: RegExp, env: NodeJS.ProcessEnv): Promise<Version | undefined> {
    return new Promise((resolve) => {
        execFile(executable, [...args], {env, timeout: 15_000}, (error, stdout, stderr) => {
            if (error !== null) {
                resolve(undefined);
                return;
            }
            const match = pattern.exec(`${stdout}\n${stderr}`);
            if (match === null) {
                resolve(undefined);
                return;
            }
            const numbers = match.slice(1).filter((part): part is string => part !== undefined).map(Number);
            resolve({text: numbers.join("."), numbers});
        });
    });
}

export function compareVersions(version: readonly number[], minimum: readonly number[]): number {
    for (let index = 0; index < Math.max(version.length, minimum.length); index++) {
        const difference = (version[index] ?? 0) - (minimum[index] ?? 0);
        if (difference !== 0)
            return difference;
    }
    return 0;
}
