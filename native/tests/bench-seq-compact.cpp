// Times llama_seq_compact against the per-range API on a large KV cache (not a test: prints timings).
// The model is the tests' tiny random-weight llama with the KV geometry of a real model, since compaction cost
// depends on the cell count and, when renumbering, on the K-shift over n_layer x n_head_kv x head size:
//   kv-distill-bench-seq-compact [n_tokens=32768] [keep_every=10] [n_layer=28] [n_embd=1536] [n_head=12] [n_head_kv=2]
// The defaults past n_tokens are Qwen2.5-1.5B's geometry. All layers go to the GPU when there is one.

#include "test-tiny-model.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

static double now_ms() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

static llama_context * prefilled_context(llama_model * model, uint32_t n_tokens, uint32_t n_vocab) {
    llama_context_params cparams = llama_context_default_params();
    cparams.n_ctx    = n_tokens + 256;
    cparams.n_batch  = 2048;
    cparams.n_ubatch = 2048;

    llama_context * ctx = llama_init_from_model(model, cparams);
    if (ctx == nullptr) {
        return nullptr;
    }

    llama_batch batch = llama_batch_init(2048, 0, 1);
    for (uint32_t p0 = 0; p0 < n_tokens; p0 += 2048) {
        batch.n_tokens = 0;
        for (uint32_t p = p0; p < n_tokens && p < p0 + 2048; ++p) {
            const int32_t i = batch.n_tokens++;
            batch.token   [i]    = (llama_token) ((p*7919u) % n_vocab);
            batch.pos     [i]    = (llama_pos) p;
            batch.n_seq_id[i]    = 1;
            batch.seq_id  [i][0] = 0;
            batch.logits  [i]    = false;
        }
        if (llama_decode(ctx, batch) != 0) {
            llama_batch_free(batch);
            llama_free(ctx);
            return nullptr;
        }
    }
    llama_batch_free(batch);
    llama_synchronize(ctx);

    return ctx;
}

int main(int argc, char ** argv) {
    const uint32_t n_tokens   = argc > 1 ? (uint32_t) atoi(argv[1]) : 32768;
    const uint32_t keep_every = argc > 2 ? (uint32_t) atoi(argv[2]) : 10;

    test_tiny_model_params params;
    params.n_layer   = argc > 3 ? (uint32_t) atoi(argv[3]) : 28;
    params.n_embd    = argc > 4 ? (uint32_t) atoi(argv[4]) : 1536;
    params.n_head    = argc > 5 ? (uint32_t) atoi(argv[5]) : 12;
    params.n_head_kv = argc > 6 ? (uint32_t) atoi(argv[6]) : 2;
    params.n_ctx     = n_tokens + 256;
    params.stdev     = 0.02f;

    llama_log_set(test_tiny_model_log, nullptr);
    llama_backend_init();

    llama_model * model = test_tiny_model_init(params);
    if (model == nullptr) {
        fprintf(stderr, "failed to create the model\n");
        return 1;
    }

    std::vector<llama_pos> keep;
    for (uint32_t p = 0; p < n_tokens; ++p) {
        if (p < 4 || p % keep_every == 0) {
            keep.push_back((llama_pos) p);
        }
    }

    printf("n_tokens %u, kept %zu, n_layer %u, n_embd %u, n_head %u, n_head_kv %u\n",
            n_tokens, keep.size(), params.n_layer, params.n_embd, params.n_head, params.n_head_kv);

    for (const auto mode : { LLAMA_SEQ_COMPACT_MODE_HOLES, LLAMA_SEQ_COMPACT_MODE_RENUMBER }) {
        llama_context * ctx = prefilled_context(model, n_tokens, params.n_vocab);
        if (ctx == nullptr) {
            fprintf(stderr, "prefill failed\n");
            return 1;
        }

        const double t0 = now_ms();
        const int32_t rc = llama_seq_compact(ctx, 0, keep.data(), keep.size(), mode);
        llama_synchronize(ctx);
        const double t1 = now_ms();

        printf("llama_seq_compact %-8s: %8.2f ms (rc %d)\n", mode == LLAMA_SEQ_COMPACT_MODE_HOLES ? "holes" : "renumber", t1 - t0, rc);
        llama_free(ctx);
    }

    // the per-range baseline: one llama_memory_seq_rm per dropped range, plus llama_memory_seq_add to renumber,
    // then the K-shift that the next decode would apply
    {
        llama_context * ctx = prefilled_context(model, n_tokens, params.n_vocab);
        if (ctx == nullptr) {
            fprintf(stderr, "prefill failed\n");
            return 1;
        }
        llama_memory_t mem = llama_get_memory(ctx);

        const double t0 = now_ms();
        size_t n_ranges = 0;
        for (size_t k = keep.size(); k-- > 0;) {
            const llama_pos p0 = keep[k] + 1;
            const llama_pos p1 = k + 1 < keep.size() ? keep[k + 1] : (llama_pos) n_tokens;
            if (p0 < p1) {
                llama_memory_seq_rm(mem, 0, p0, p1);
                if (p1 < (llama_pos) n_tokens) {
                    llama_memory_seq_add(mem, 0, p1, -1, -(p1 - p0));
                }
                n_ranges++;
            }
        }
        const double t1 = now_ms();

        printf("per-range seq_rm + seq_add : %8.2f ms (%zu ranges, K-shift still pending)\n", t1 - t0, n_ranges);
        llama_free(ctx);
    }

    llama_model_free(model);
    llama_backend_free();

    return 0;
}
