// The language shown in each file's prompt header, as a VS Code language id, guessed from the name.
// A wrong guess only costs a less helpful header, so a table is enough.

const languageByFileName: ReadonlyMap<string, string> = new Map([
    ["dockerfile", "dockerfile"], ["containerfile", "dockerfile"], ["makefile", "makefile"], ["gnumakefile", "makefile"],
    ["cmakelists.txt", "cmake"], ["gemfile", "ruby"], ["rakefile", "ruby"], ["podfile", "ruby"], ["vagrantfile", "ruby"],
    ["jenkinsfile", "groovy"], ["justfile", "just"], ["license", "plaintext"], ["readme", "plaintext"],
    [".gitignore", "ignore"], [".ignore", "ignore"], [".kvdistillignore", "ignore"], [".dockerignore", "ignore"],
    [".npmignore", "ignore"], [".gitattributes", "properties"], [".editorconfig", "properties"], [".env", "dotenv"],
    [".bashrc", "shellscript"], [".zshrc", "shellscript"], [".profile", "shellscript"], ["go.mod", "go.mod"],
    ["go.sum", "go.sum"], ["cargo.lock", "toml"], ["tsconfig.json", "jsonc"], ["jsconfig.json", "jsonc"],
    [".eslintrc", "jsonc"], [".babelrc", "jsonc"], ["build", "starlark"], ["workspace", "starlark"]
]);

const languageByExtension: ReadonlyMap<string, string> = new Map([
    ["ts", "typescript"], ["mts", "typescript"], ["cts", "typescript"], ["tsx", "typescriptreact"],
    ["js", "javascript"], ["mjs", "javascript"], ["cjs", "javascript"], ["jsx", "javascriptreact"],
    ["json", "json"], ["jsonc", "jsonc"], ["json5", "json5"], ["jsonl", "jsonl"], ["md", "markdown"], ["markdown", "markdown"],
    ["mdx", "mdx"], ["html", "html"], ["htm", "html"], ["css", "css"], ["scss", "scss"], ["sass", "sass"], ["less", "less"],
    ["vue", "vue"], ["svelte", "svelte"], ["astro", "astro"], ["py", "python"], ["pyi", "python"], ["ipynb", "jupyter"],
    ["rs", "rust"], ["go", "go"], ["c", "c"], ["h", "c"], ["cc", "cpp"], ["cpp", "cpp"], ["cxx", "cpp"], ["hpp", "cpp"],
    ["hh", "cpp"], ["hxx", "cpp"], ["inl", "cpp"], ["cu", "cuda-cpp"], ["cuh", "cuda-cpp"], ["m", "objective-c"],
    ["mm", "objective-cpp"], ["java", "java"], ["kt", "kotlin"], ["kts", "kotlin"], ["scala", "scala"], ["groovy", "groovy"],
    ["gradle", "groovy"], ["cs", "csharp"], ["fs", "fsharp"], ["vb", "vb"], ["swift", "swift"], ["dart", "dart"],
    ["rb", "ruby"], ["php", "php"], ["pl", "perl"], ["pm", "perl"], ["lua", "lua"], ["r", "r"], ["jl", "julia"],
    ["ex", "elixir"], ["exs", "elixir"], ["erl", "erlang"], ["hs", "haskell"], ["ml", "ocaml"], ["mli", "ocaml"],
    ["clj", "clojure"], ["cljs", "clojure"], ["elm", "elm"], ["zig", "zig"], ["nim", "nim"], ["sol", "solidity"],
    ["sh", "shellscript"], ["bash", "shellscript"], ["zsh", "shellscript"], ["fish", "fish"], ["ps1", "powershell"],
    ["psm1", "powershell"], ["bat", "bat"], ["cmd", "bat"], ["sql", "sql"], ["graphql", "graphql"], ["gql", "graphql"],
    ["proto", "proto3"], ["yaml", "yaml"], ["yml", "yaml"], ["toml", "toml"], ["ini", "ini"], ["cfg", "ini"],
    ["conf", "properties"], ["properties", "properties"], ["xml", "xml"], ["xsd", "xml"], ["svg", "xml"], ["plist", "xml"],
    ["csv", "csv"], ["tsv", "tsv"], ["txt", "plaintext"], ["log", "log"], ["rst", "restructuredtext"], ["tex", "latex"],
    ["bib", "bibtex"], ["diff", "diff"], ["patch", "diff"], ["dockerfile", "dockerfile"], ["tf", "terraform"],
    ["hcl", "hcl"], ["nix", "nix"], ["cmake", "cmake"], ["mk", "makefile"], ["glsl", "glsl"], ["wgsl", "wgsl"],
    ["hlsl", "hlsl"], ["asm", "asm"], ["s", "asm"], ["v", "verilog"], ["sv", "systemverilog"], ["vhd", "vhdl"],
    ["gd", "gdscript"], ["pug", "jade"], ["hbs", "handlebars"], ["ejs", "html"], ["erb", "erb"], ["twig", "twig"],
    ["razor", "razor"], ["cshtml", "razor"], ["ipp", "cpp"], ["d", "d"], ["pas", "pascal"], ["f90", "fortran"],
    ["prisma", "prisma"], ["lock", "plaintext"]
]);

export function guessLanguageId(fileName: string): string {
    const lower = fileName.toLowerCase();
    const byName = languageByFileName.get(lower);
    if (byName !== undefined)
        return byName;
    if (lower.startsWith("dockerfile."))
        return "dockerfile";
    if (lower.startsWith(".env."))
        return "dotenv";
    const dot = lower.lastIndexOf(".");
    if (dot <= 0 || dot === lower.length - 1)
        return "plaintext";
    return languageByExtension.get(lower.slice(dot + 1)) ?? "plaintext";
}
