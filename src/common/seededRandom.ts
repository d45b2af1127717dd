// A small seeded pseudo-random generator (mulberry32 + Box-Muller) so that fixture models and the
// `random` scorer's tests are identical on every machine.
export type SeededRandom = {
    /** Uniform in [0, 1). */
    nextUniform(): number;
    /** Standard normal. */
    nextNormal(): number;
};

export function createSeededRandom(seed: number): SeededRandom {
    let state = seed >>> 0;
    let spareNormal: number | undefined;
    const nextUniform = (): number => {
        state = (state + 0x6d2b79f5) >>> 0;
        let value = state;
        value = Math.imul(value ^ (value >>> 15), value | 1);
        value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
        return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
    };
    const nextNormal = (): number => {
        if (spareNormal !== undefined) {
            const value = spareNormal;
            spareNormal = undefined;
            return value;
        }
        const radius = Math.sqrt(-2 * Math.log(1 - nextUniform()));
        const angle = 2 * Math.PI * nextUniform();
        spareNormal = radius * Math.sin(angle);
        return radius * Math.cos(angle);
    };
    return {nextUniform, nextNormal};
}
