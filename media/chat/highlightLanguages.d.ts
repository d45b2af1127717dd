// highlight.js ships no declarations for single language modules.
declare module "highlight.js/lib/languages/*" {
    import type {LanguageFn} from "highlight.js";
    const language: LanguageFn;
    export = language;
}
