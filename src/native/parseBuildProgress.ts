// Progress of a CMake build from its output lines: Makefiles print "[ 42%] Building ...",
// Ninja prints "[17/345] Building ...". node-llama-cpp's source build passes both through.

/** The build's completed fraction (0 to 1) that a line reports, or undefined for other lines. */
export function parseBuildProgress(line: string): number | undefined {
    const makefile = /^\s*\[\s*(\d{1,3})%\]/.exec(line);
    if (makefile !== null) {
        const percent = Number(makefile[1]);
        return percent <= 100 ? percent / 100 : undefined;
    }
    const ninja = /^\s*\[(\d+)\/(\d+)\]/.exec(line);
    if (ninja !== null) {
        const done = Number(ninja[1]);
        const total = Number(ninja[2]);
        return total > 0 && done <= total ? done / total : undefined;
    }
    return undefined;
}
