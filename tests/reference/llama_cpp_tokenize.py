#!/usr/bin/env python3
"""Token ids from llama.cpp itself, for a GGUF file's tokenizer: the PyPI package
llama-cpp-python (its bundled libllama), vocabulary only, no weights loaded.

  llama_cpp_tokenize.py encode GGUF CHUNKS OUT [special]
        CHUNKS: UTF-8 texts separated by NUL bytes; OUT: one line per text, ids separated by
        spaces. Each text is llama_tokenize(text, add_special=False, parse_special=False),
        or parse_special=True with the word `special` (control tokens such as <|im_start|>
        matched whole, which is what eprunner's BpeTokenizer::encode does).
  llama_cpp_tokenize.py variant GGUF OUT JSON
        writes OUT: GGUF's metadata without tensors (enough for vocab_only) changed as JSON says:
        {"set": {"tokenizer.ggml.pre": "gpt-2"}, "add_merges": ["a b", ...]}; each added merge
        also adds its result as a normal token when the vocabulary lacks it.
"""
import json
import os
import sys


def load_vocab(gguf_path):
    import llama_cpp

    # Even with verbose=False llama.cpp prints a context-size note on stderr while loading;
    # a failed load still raises (with its message) after stderr is back.
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        return llama_cpp.Llama(model_path=gguf_path, vocab_only=True, verbose=False)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def encode(gguf_path, chunks_path, out_path, special):
    llm = load_vocab(gguf_path)
    texts = open(chunks_path, "rb").read().decode("utf-8").split("\0")
    with open(out_path, "w") as out:
        for text in texts:
            ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=special) if text else []
            out.write(" ".join(map(str, ids)) + "\n")


def variant(gguf_path, out_path, changes):
    import gguf

    reader = gguf.GGUFReader(gguf_path)
    values = {name: field.contents() for name, field in reader.fields.items() if not name.startswith("GGUF.")}
    values.update(changes.get("set", {}))
    tokens, types, merges = (values[k] for k in ("tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges"))
    known = set(tokens)
    for merge in changes.get("add_merges", []):
        merges.append(merge)
        merged = merge.replace(" ", "", 1)
        if merged not in known:
            known.add(merged)
            tokens.append(merged)
            types.append(1)  # normal
    writer = gguf.GGUFWriter(out_path, values.pop("general.architecture"))  # writes that key itself
    for name, value in values.items():
        field = reader.fields.get(name)
        if field is None:
            writer.add_string(name, value)
            continue
        vtype = field.types[0]
        writer.add_key_value(name, value, vtype, sub_type=field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) in (4, 5) and args[0] == "encode" and (len(args) == 4 or args[4] == "special"):
        encode(args[1], args[2], args[3], special=len(args) == 5)
    elif len(args) == 4 and args[0] == "variant":
        variant(args[1], args[2], json.loads(args[3]))
    else:
        sys.exit(__doc__)
