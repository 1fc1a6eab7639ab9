#!/usr/bin/env python3
"""Reference GGUF files and values for tests/core/io_gguf_test.cpp, made at test time with
llama.cpp's own Python package `gguf` (gguf-py, pinned in requirements.txt):
gguf.GGUFWriter writes the files, gguf.quants.quantize quantizes, gguf.quants.dequantize
gives the reference float32 values, gguf.GGUFReader reads the real model file.

  gguf_reference.py types OUTDIR
      OUTDIR/types.gguf      every metadata value type + one tensor per supported ggml type
      OUTDIR/align64.gguf    a few tensors with general.alignment = 64
      OUTDIR/manifest.json   what was written: metadata (type + value), tensors (name, type,
                             shape in torch order, reference file), section offsets
      OUTDIR/ref/NAME.f32    reference float32 values (little-endian, row-major)

  gguf_reference.py model GGUF OUTDIR
      OUTDIR/manifest.json   metadata read back, every tensor's name/type/shape/offset/size and
                             a checksum of its dequantized values; reference files for one
                             or two tensors per type (the first rows of big ones)
      OUTDIR/ref/NAME.f32

Checksum of n float32 values with bit patterns u[i]: sum over i of u[i] * (2*i + 1), mod 2**64.
"""
import json
import os
import sys

import numpy as np

import gguf
from gguf import GGMLQuantizationType as Q
from gguf import GGUFValueType as V

QK_K = 256


def checksum(values: np.ndarray) -> int:
    bits = np.ascontiguousarray(values, dtype=np.float32).reshape(-1).view(np.uint32)
    total = np.uint64(0)
    chunk = 1 << 22
    with np.errstate(over="ignore"):
        for start in range(0, bits.size, chunk):
            u = bits[start:start + chunk].astype(np.uint64)
            w = np.arange(start, start + u.size, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
            total = total + np.sum(u * w, dtype=np.uint64)
    return int(total)


def write_ref(outdir: str, name: str, values: np.ndarray) -> str:
    os.makedirs(os.path.join(outdir, "ref"), exist_ok=True)
    rel = os.path.join("ref", name + ".f32")
    np.ascontiguousarray(values, dtype="<f4").tofile(os.path.join(outdir, rel))
    return rel


# ---- types: metadata -------------------------------------------------------------

def f32(x: float) -> float:
    """The float32 the file will hold, as an exact Python float."""
    return float(np.float32(x))


# (key, value type, value, element type for arrays). Values as the manifest records them.
METADATA = [
    ("test.uint8", V.UINT8, 255, None),
    ("test.int8", V.INT8, -128, None),
    ("test.uint16", V.UINT16, 65535, None),
    ("test.int16", V.INT16, -32768, None),
    ("test.uint32", V.UINT32, 4294967295, None),
    ("test.int32", V.INT32, -2147483648, None),
    ("test.uint64", V.UINT64, 2**64 - 1, None),
    ("test.int64", V.INT64, -2**63, None),
    ("test.small_uint64", V.UINT64, 12345678901234, None),
    ("test.float32", V.FLOAT32, f32(3.14159), None),
    ("test.float64", V.FLOAT64, 2.718281828459045, None),
    ("test.bool_true", V.BOOL, True, None),
    ("test.bool_false", V.BOOL, False, None),
    ("test.string", V.STRING, "h\u00e9llo w\u00f6rld \u2713 \U0001F600", None),
    ("test.empty_string", V.STRING, "", None),
    ("test.array.uint8", V.ARRAY, [0, 1, 255], V.UINT8),
    ("test.array.int8", V.ARRAY, [-128, 0, 127], V.INT8),
    ("test.array.uint16", V.ARRAY, [0, 65535], V.UINT16),
    ("test.array.int16", V.ARRAY, [-32768, 32767], V.INT16),
    ("test.array.uint32", V.ARRAY, [1, 4294967295], V.UINT32),
    ("test.array.int32", V.ARRAY, [-7, 0, 7, 2147483647], V.INT32),
    ("test.array.uint64", V.ARRAY, [0, 2**63 - 1], V.UINT64),
    ("test.array.int64", V.ARRAY, [-2**63, 2**63 - 1], V.INT64),
    ("test.array.float32", V.ARRAY, [f32(0.1), f32(-2.5), f32(1e30)], V.FLOAT32),
    ("test.array.float64", V.ARRAY, [0.1, -1e300, 5e-324], V.FLOAT64),
    ("test.array.bool", V.ARRAY, [True, False, True], V.BOOL),
    ("test.array.string", V.ARRAY, ["a", "", "\u00fcn\u00efc\u00f6de", "x" * 300], V.STRING),
    ("test.array.nested_int", V.ARRAY, [[1, 2, 3], [4], [-5, 6]], V.ARRAY),
    ("test.array.nested_string", V.ARRAY, [["a", "b"], ["c"]], V.ARRAY),
    ("test.array.nested_mixed", V.ARRAY, [[1, 2], ["x"], [[True], [False, True]]], V.ARRAY),
]


def python_type(x) -> V:
    """The element type gguf-py picks for an untyped (nested) array element."""
    return V.get_type(x)


def manifest_value(value, vtype: V, sub_type):
    """{"type", "value"} or {"type": "ARRAY", "element_type", "items": [...]} recursively."""
    if vtype != V.ARRAY:
        return {"type": vtype.name, "value": value}
    elem = sub_type if sub_type is not None else python_type(value[0])
    if elem == V.ARRAY:
        return {"type": "ARRAY", "element_type": "ARRAY",
                "items": [manifest_value(v, V.ARRAY, None) for v in value]}
    return {"type": "ARRAY", "element_type": elem.name, "items": list(value)}


# ---- types: tensors --------------------------------------------------------------

# Byte offsets of the fp16 (or float32 for Q8_K) scales inside one K-quant block; random
# block bytes get finite, moderate scales there so every value is a normal number.
K_SCALES = {
    Q.Q2_K: [(QK_K // 16 + QK_K // 4, "f16"), (QK_K // 16 + QK_K // 4 + 2, "f16")],
    Q.Q3_K: [(QK_K // 8 + QK_K // 4 + 12, "f16")],
    Q.Q4_K: [(0, "f16"), (2, "f16")],
    Q.Q5_K: [(0, "f16"), (2, "f16")],
    Q.Q6_K: [(QK_K // 2 + QK_K // 4 + QK_K // 16, "f16")],
    Q.Q8_K: [(0, "f32")],
}


def random_k_blocks(rng, qtype: Q, rows: int, cols: int) -> np.ndarray:
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(rows, cols // block, size), dtype=np.uint8)
    for offset, kind in K_SCALES[qtype]:
        if kind == "f16":
            scales = rng.uniform(-0.2, 0.2, size=(rows, cols // block)).astype(np.float16)
            raw[:, :, offset:offset + 2] = scales.view(np.uint8).reshape(rows, cols // block, 2)
        else:
            scales = rng.uniform(-0.02, 0.02, size=(rows, cols // block)).astype(np.float32)
            raw[:, :, offset:offset + 4] = scales.view(np.uint8).reshape(rows, cols // block, 4)
    return raw.reshape(rows, cols // block * size)


def reference_q8_k(raw: np.ndarray) -> np.ndarray:
    """gguf-py has no Q8_K (an intermediate type of ggml's dot products); ggml's
    dequantize_row_q8_K is y = d * q with a float32 d, written here with numpy."""
    blocks = raw.reshape(-1, 4 + QK_K + QK_K // 8)
    d = blocks[:, :4].copy().view(np.float32)
    q = blocks[:, 4:4 + QK_K].copy().view(np.int8).astype(np.float32)
    return (d * q).reshape(raw.shape[0], -1)


def make_tensor(rng, qtype: Q, shape):
    """(array to write, raw_dtype, reference float32 values) for a tensor of `shape` (torch order)."""
    rows = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
    cols = shape[-1]
    if qtype == Q.F32:
        x = rng.standard_normal(size=shape).astype(np.float32)
        return x, None, gguf.quants.dequantize(x, Q.F32)
    if qtype == Q.F16:
        # Every finite half bit pattern is fair game: subnormals, zeros of both signs, infinities.
        bits = rng.integers(0, 1 << 16, size=shape, dtype=np.uint16)
        nan = ((bits & 0x7C00) == 0x7C00) & ((bits & 0x03FF) != 0)
        bits[nan] = 0x3C00
        specials = np.array([0x0000, 0x8000, 0x0001, 0x83FF, 0x7C00, 0xFBFF], dtype=np.uint16)
        n = min(bits.size, specials.size)
        bits.reshape(-1)[:n] = specials[:n]
        x = bits.view(np.float16)
        return x, None, gguf.quants.dequantize(x, Q.F16)
    if qtype in K_SCALES:
        raw = random_k_blocks(rng, qtype, rows, cols)
        ref = reference_q8_k(raw) if qtype == Q.Q8_K else gguf.quants.dequantize(raw, qtype)
        return raw.reshape(*shape[:-1], -1), qtype, ref.reshape(shape)
    x = (rng.standard_normal(size=shape) * rng.uniform(0.01, 3.0)).astype(np.float32)
    raw = gguf.quants.quantize(x, qtype)
    return raw, qtype, gguf.quants.dequantize(raw, qtype).reshape(shape)


TENSORS = [
    ("f32", Q.F32, (3, 5, 7)),
    ("f16", Q.F16, (4, 33)),
    ("bf16", Q.BF16, (2, 3, 4, 8)),
    ("q4_0", Q.Q4_0, (6, 96)),
    ("q4_1", Q.Q4_1, (6, 96)),
    ("q5_0", Q.Q5_0, (5, 64)),
    ("q5_1", Q.Q5_1, (5, 64)),
    ("q8_0", Q.Q8_0, (2, 3, 64)),
    ("q2_k", Q.Q2_K, (3, 512)),
    ("q3_k", Q.Q3_K, (3, 512)),
    ("q4_k", Q.Q4_K, (3, 512)),
    ("q5_k", Q.Q5_K, (3, 512)),
    ("q6_k", Q.Q6_K, (2, 2, 512)),
    ("q8_k", Q.Q8_K, (2, 256)),
    ("scalar_like", Q.F32, (1,)),
]


def add_metadata(w: gguf.GGUFWriter):
    for key, vtype, value, sub in METADATA:
        w.add_key_value(key, value, vtype, sub_type=sub)


def write_gguf(path: str, w: gguf.GGUFWriter):
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def section_offsets(path: str) -> dict:
    """Where gguf-py's reader finds the sections, for the truncation tests."""
    r = gguf.GGUFReader(path)
    table_start = min(t.field.offset for t in r.tensors)
    table_end = max(t.field.offset + sum(p.nbytes for p in t.field.parts) for t in r.tensors)
    data_end = max(int(t.data_offset) + int(t.n_bytes) for t in r.tensors)
    return {"kv_start": 24, "tensor_table_start": int(table_start), "tensor_table_end": int(table_end),
            "data_start": int(r.data_offset), "data_end": data_end, "file_size": os.path.getsize(path)}


def cmd_types(outdir: str):
    os.makedirs(outdir, exist_ok=True)
    rng = np.random.default_rng(20240601)
    manifest = {"gguf_version": gguf.GGUF_VERSION, "files": {}}

    w = gguf.GGUFWriter(os.path.join(outdir, "types.gguf"), arch="testarch")
    add_metadata(w)
    tensors = []
    for name, qtype, shape in TENSORS:
        data, raw_dtype, ref = make_tensor(rng, qtype, list(shape))
        w.add_tensor(name, data, raw_dtype=raw_dtype)
        tensors.append({"name": name, "type": qtype.name, "type_id": int(qtype), "shape": list(shape),
                        "ref": write_ref(outdir, "types." + name, ref)})
    write_gguf(os.path.join(outdir, "types.gguf"), w)
    metadata = {"general.architecture": {"type": "STRING", "value": "testarch"}}
    for key, vtype, value, sub in METADATA:
        metadata[key] = manifest_value(value, vtype, sub)
    manifest["files"]["types.gguf"] = {
        "metadata": metadata, "key_order": list(metadata.keys()), "tensors": tensors, "alignment": 32,
        "offsets": section_offsets(os.path.join(outdir, "types.gguf"))}

    w = gguf.GGUFWriter(os.path.join(outdir, "align64.gguf"), arch="testarch")
    w.add_custom_alignment(64)
    tensors = []
    for name, qtype, shape in [("a", Q.Q8_0, (3, 32)), ("b", Q.F16, (5,)), ("c", Q.Q4_1, (1, 32))]:
        data, raw_dtype, ref = make_tensor(rng, qtype, list(shape))
        w.add_tensor(name, data, raw_dtype=raw_dtype)
        tensors.append({"name": name, "type": qtype.name, "type_id": int(qtype), "shape": list(shape),
                        "ref": write_ref(outdir, "align64." + name, ref)})
    write_gguf(os.path.join(outdir, "align64.gguf"), w)
    manifest["files"]["align64.gguf"] = {
        "metadata": {"general.architecture": {"type": "STRING", "value": "testarch"},
                     "general.alignment": {"type": "UINT32", "value": 64}},
        "key_order": ["general.architecture", "general.alignment"], "tensors": tensors, "alignment": 64,
        "offsets": section_offsets(os.path.join(outdir, "align64.gguf"))}

    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


# ---- model: a real file ----------------------------------------------------------

def field_value(field):
    """A reader field as a manifest value (scalars and flat arrays)."""
    types = [V(t) for t in field.types]
    if types[0] != V.ARRAY:
        return {"type": types[0].name, "value": field.contents()}
    return {"type": "ARRAY", "element_type": types[1].name, "count": len(field.data)}


def cmd_model(path: str, outdir: str):
    os.makedirs(outdir, exist_ok=True)
    r = gguf.GGUFReader(path)
    metadata = {}
    for key, field in r.fields.items():
        if key.startswith("GGUF."):
            continue
        metadata[key] = field_value(field)
    tokens = r.fields["tokenizer.ggml.tokens"].contents()
    tensors = []
    refs_per_type = {}
    for t in r.tensors:
        qtype = Q(t.tensor_type)
        # GGUFReader reports ne order (ne[0] first); torch order is the reverse.
        shape = [int(d) for d in reversed(t.shape.tolist())]
        values = gguf.quants.dequantize(t.data, qtype)
        entry = {"name": t.name, "type": qtype.name, "type_id": int(qtype), "shape": shape,
                 "offset": int(t.data_offset) - int(r.data_offset), "nbytes": int(t.n_bytes),
                 "checksum": str(checksum(values)), "numel": int(values.size)}
        # Reference values for up to two tensors per type; at most 1024 rows of each.
        if refs_per_type.get(qtype, 0) < 2:
            refs_per_type[qtype] = refs_per_type.get(qtype, 0) + 1
            rows = values.reshape(-1, shape[-1])[:1024]
            entry["ref"] = write_ref(outdir, "model." + t.name, rows)
            entry["ref_rows"] = int(rows.shape[0])
        tensors.append(entry)
    manifest = {"version": int(r.fields["GGUF.version"].contents()), "alignment": int(r.alignment),
                "data_offset": int(r.data_offset), "metadata": metadata,
                "key_order": [k for k in r.fields.keys() if not k.startswith("GGUF.")],
                "tokens_count": len(tokens), "first_tokens": tokens[:20], "last_token": tokens[-1],
                "tensors": tensors}
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "types":
        cmd_types(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "model":
        cmd_model(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
