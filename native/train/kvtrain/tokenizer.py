"""llama.cpp's BPE tokenizer for the deepseek-coder vocabulary, re-implemented to give the same ids.

llama.cpp (src/llama-vocab.cpp, src/unicode.cpp) tokenizes a text in three stages:
1. special-token partition: the text of every CONTROL token (only when parse_special) and every
   USER_DEFINED token is cut out, longest token text first;
2. pre-tokenization of each remaining fragment with the deepseek-coder regex sequence
   "[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[CJK ranges]+", "\\p{N}" (each later regex splits only
   what the earlier ones left unmatched; unmatched runs stay pieces of their own);
3. byte-level BPE on each piece: merge the adjacent pair of lowest merge rank (leftmost on ties)
   until none is left, then look the symbols up (single bytes where a symbol is missing).

Stage 2 is done here with one regular expression whose alternatives reproduce the sequence; this is
exact for ASCII text (the training data is ASCII only) and follows Python's Unicode tables otherwise.

Two of the vocabulary's unused padding entries become the chat template's control tokens
<|im_start|> and <|im_end|> (CHAT_TOKENS); the exported GGUF carries the vocabulary changed that way.
"""
import re
import sys
import unicodedata

from .llama_source import import_gguf, vocab_gguf_path

TOKEN_TYPE_NORMAL = 1
TOKEN_TYPE_CONTROL = 3
TOKEN_TYPE_USER_DEFINED = 4

# Unused "[PAD32022]" / "[PAD32023]" entries, turned into the chat template's control tokens.
CHAT_TOKENS = {32022: "<|im_start|>", 32023: "<|im_end|>"}


def bytes_to_unicode():
    """GPT-2's byte-to-character table, as llama.cpp's unicode_byte_to_utf8_map builds it."""
    printable = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table = {byte: chr(byte) for byte in printable}
    extra = 0
    for byte in range(256):
        if byte not in table:
            table[byte] = chr(256 + extra)
            extra += 1
    return table


def _build_pretokenizer_pattern():
    """One regex equivalent to deepseek-coder's sequence of split regexes (see the module doc)."""
    letters, punctuation, numbers, spaces, cjk = [], [], [], [], []
    for code_point in range(0x80, sys.maxunicode + 1):
        character = chr(code_point)
        if character.isspace():
            spaces.append(code_point)
            continue
        category = unicodedata.category(character)[0]
        in_cjk_range = 0x0800 <= code_point <= 0x9FA5 or 0xAC00 <= code_point <= 0xD7FF
        if category == "L":
            letters.append(code_point)
        elif category == "P":
            punctuation.append(code_point)
        elif in_cjk_range:
            # Step 4 sees only what steps 2 and 3 left: non-letters, non-punctuation (digits included).
            cjk.append(code_point)
        elif category == "N":
            numbers.append(code_point)

    def ranges(code_points):
        out, start, previous = [], None, None
        for code_point in code_points:
            if start is None:
                start = previous = code_point
            elif code_point == previous + 1:
                previous = code_point
            else:
                out.append((start, previous))
                start = previous = code_point
        if start is not None:
            out.append((start, previous))
        return "".join(re.escape(chr(a)) if a == b else "%s-%s" % (re.escape(chr(a)), re.escape(chr(b)))
                       for a, b in out)

    # ASCII classes as llama.cpp's std::regex sees them (C locale \s; Unicode P and S split for ASCII).
    space_class = "[\\t\\x0b\\x0c %s]" % ranges(spaces)
    letter_class = "[A-Za-z%s]" % ranges(letters)
    punctuation_class = "[!-#%%-*,-/:;?@\\[-\\]_{}%s]" % ranges(punctuation)
    number_class = "[0-9%s]" % ranges(numbers)
    cjk_class = "[%s]" % ranges(cjk)
    # Anything else (symbols $+<=>^`|~, marks, controls) joins an unmatched run; so does a space
    # that is not followed by a letter or punctuation (those spaces start a match instead).
    other_class = "[^\\r\\n\\t\\x0b\\x0c A-Za-z0-9!-#%%-*,-/:;?@\\[-\\]_{}%s%s%s%s%s]" % (
        ranges(spaces), ranges(letters), ranges(punctuation), ranges(numbers), ranges(cjk))
    pattern = "|".join([
        "[\\r\\n]",
        "%s?%s+" % (space_class, letter_class),
        "%s?%s+" % (space_class, punctuation_class),
        "%s+" % cjk_class,
        number_class,
        "(?:%s|%s(?!%s|%s))+" % (other_class, space_class, letter_class, punctuation_class),
    ])
    return re.compile(pattern)


class LlamaBpeTokenizer:
    def __init__(self, vocab_path=None):
        gguf = import_gguf()
        reader = gguf.GGUFReader(vocab_path or vocab_gguf_path())

        def field(name):
            return reader.fields[name].contents()

        self.tokens = list(field("tokenizer.ggml.tokens"))
        self.token_types = [int(value) for value in field("tokenizer.ggml.token_type")]
        self.merges = list(field("tokenizer.ggml.merges"))
        self.pre = field("tokenizer.ggml.pre")
        self.bos_id = int(field("tokenizer.ggml.bos_token_id"))
        self.add_bos = bool(field("tokenizer.ggml.add_bos_token"))
        if field("tokenizer.ggml.model") != "gpt2" or self.pre != "deepseek-coder":
            raise ValueError("expected the deepseek-coder BPE vocabulary, got %s/%s" % (
                field("tokenizer.ggml.model"), self.pre))
        for token_id, text in CHAT_TOKENS.items():
            if not self.tokens[token_id].startswith("[PAD"):
                raise ValueError("vocabulary entry %d is %r, not a padding entry" % (token_id, self.tokens[token_id]))
            self.tokens[token_id] = text
            self.token_types[token_id] = TOKEN_TYPE_CONTROL
        self.im_start_id = 32022
        self.im_end_id = 32023
        self.vocab_size = len(self.tokens)
        self.token_to_id = {text: token_id for token_id, text in enumerate(self.tokens)}
        self.merge_ranks = {}
        for rank, merge in enumerate(self.merges):
            left, right = merge.split(" ", 1)
            self.merge_ranks[(left, right)] = rank
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {character: byte for byte, character in self.byte_encoder.items()}
        self.pretokenizer = _build_pretokenizer_pattern()
        # llama.cpp turns the FIM tokens into control tokens by their text when it loads the
        # vocabulary; the exported vocabulary says so directly.
        for token_id, text in enumerate(self.tokens):
            if text in ("<\uff5cfim\u2581hole\uff5c>", "<\uff5cfim\u2581begin\uff5c>", "<\uff5cfim\u2581end\uff5c>"):
                self.token_types[token_id] = TOKEN_TYPE_CONTROL
        self.partition_types = self.token_types
        # Special tokens in llama.cpp's partition order (longest text first).
        special = [token_id for token_id, kind in enumerate(self.token_types)
                   if kind in (TOKEN_TYPE_CONTROL, TOKEN_TYPE_USER_DEFINED)]
        special.sort(key=lambda token_id: -len(self.tokens[token_id].encode("utf-8")))
        self.special_ids = special
        self.user_defined_pattern = re.compile("|".join(
            re.escape(self.tokens[token_id]) for token_id in special
            if self.partition_types[token_id] == TOKEN_TYPE_USER_DEFINED))
        self.any_special_pattern = re.compile("|".join(re.escape(self.tokens[token_id]) for token_id in special))
        self.piece_cache = {}

    # --- encoding -------------------------------------------------------------------------------

    def _bpe(self, piece):
        encoded = "".join(self.byte_encoder[byte] for byte in piece.encode("utf-8"))
        symbols = list(encoded)
        ranks = self.merge_ranks
        while len(symbols) > 1:
            best_rank, best_index = None, -1
            for index in range(len(symbols) - 1):
                rank = ranks.get((symbols[index], symbols[index + 1]))
                if rank is not None and (best_rank is None or rank < best_rank):
                    best_rank, best_index = rank, index
            if best_rank is None:
                break
            symbols[best_index:best_index + 2] = [symbols[best_index] + symbols[best_index + 1]]
        ids = []
        for symbol in symbols:
            token_id = self.token_to_id.get(symbol)
            if token_id is not None:
                ids.append(token_id)
            else:
                for character in symbol:
                    ids.append(self.token_to_id[character])
        return tuple(ids)

    def _encode_fragment(self, text, out):
        cache = self.piece_cache
        for piece in self.pretokenizer.findall(text):
            ids = cache.get(piece)
            if ids is None:
                ids = self._bpe(piece)
                if len(cache) < 2_000_000:
                    cache[piece] = ids
            out.extend(ids)

    def encode(self, text, parse_special=False, add_bos=False):
        """Token ids of `text`, as llama_tokenize(text, add_special=add_bos, parse_special) gives them."""
        out = [self.bos_id] if (add_bos and self.add_bos) else []
        pattern = self.any_special_pattern if parse_special else self.user_defined_pattern
        if not pattern.search(text):
            self._encode_fragment(text, out)
            return out
        for fragment in self._partition(text, parse_special):
            if isinstance(fragment, int):
                out.append(fragment)
            else:
                self._encode_fragment(fragment, out)
        return out

    def _partition(self, text, parse_special):
        fragments = [text]
        for token_id in self.special_ids:
            if not parse_special and self.partition_types[token_id] == TOKEN_TYPE_CONTROL:
                continue
            token_text = self.tokens[token_id]
            next_fragments = []
            for fragment in fragments:
                if isinstance(fragment, int) or token_text not in fragment:
                    next_fragments.append(fragment)
                    continue
                parts = fragment.split(token_text)
                for index, part in enumerate(parts):
                    if index > 0:
                        next_fragments.append(token_id)
                    if part:
                        next_fragments.append(part)
            fragments = next_fragments
        return fragments

    def contains_special_text(self, text):
        return self.any_special_pattern.search(text) is not None

    # --- decoding -------------------------------------------------------------------------------

    def decode(self, ids):
        data = bytearray()
        for token_id in ids:
            text = self.tokens[token_id]
            if self.token_types[token_id] in (TOKEN_TYPE_CONTROL, TOKEN_TYPE_USER_DEFINED):
                data.extend(text.encode("utf-8"))
            else:
                for character in text:
                    byte = self.byte_decoder.get(character)
                    if byte is None:
                        data.extend(character.encode("utf-8"))
                    else:
                        data.append(byte)
        return data.decode("utf-8", errors="replace")


_shared = None


def shared_tokenizer():
    global _shared
    if _shared is None:
        _shared = LlamaBpeTokenizer()
    return _shared
