// Writes the fixtures of the TypeScript tests of the patched functions into a folder:
//   tiny-llama.gguf                 the tiny random-weight llama model of the C++ tests (tests/test-tiny-model.h)
//   tiny-llama.scorer.gguf          a scoring adapter bound to it (eta 1)
//   tiny-llama.foreign-scorer.gguf  the same adapter bound to another vocabulary (must be refused)
// so the TypeScript tests run on exactly what the C++ tests use.
//   kv-distill-make-tiny-model <folder>

#include "test-tiny-model.h"

#include <cstdio>
#include <string>

int main(int argc, char ** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s <output folder>\n", argv[0]);
        return 2;
    }

    const std::string folder = argv[1];

    llama_backend_init();

    test_tiny_model_params params;

    llama_model * model = test_tiny_model_init(params);
    if (model == nullptr) {
        fprintf(stderr, "failed to create the tiny model\n");
        return 1;
    }

    llama_model_save_to_file(model, (folder + "/tiny-llama.gguf").c_str());

    test_tiny_scorer_params scorer;
    scorer.eta = 1;
    test_tiny_scorer_bind(scorer, model);
    test_tiny_scorer_write(scorer, (folder + "/tiny-llama.scorer.gguf").c_str());

    scorer.base_vocab_fingerprint = "0123456789abcdef";
    test_tiny_scorer_write(scorer, (folder + "/tiny-llama.foreign-scorer.gguf").c_str());

    llama_model_free(model);
    llama_backend_free();

    fprintf(stderr, "wrote the fixtures to %s\n", folder.c_str());
    return 0;
}
