// Node-API bindings: argument checking and unpacking only; the kernels live in gemm.cc / kernels.cc.
#include <node_api.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <vector>

#include "gemm.h"
#include "kernels.h"
#include "pool.h"

namespace {

using namespace lmf;

struct ArgError {
  std::string message;
};

struct Args {
  napi_env env;
  napi_value argv[32];
  size_t argc = 32;
  Args(napi_env e, napi_callback_info info) : env(e) { napi_get_cb_info(e, info, &argc, argv, nullptr, nullptr); }

  napi_value at(size_t i) const {
    if (i >= argc) throw ArgError{"missing argument " + std::to_string(i)};
    return argv[i];
  }

  bool isNull(size_t i) const {
    napi_valuetype t;
    napi_typeof(env, at(i), &t);
    return t == napi_null || t == napi_undefined;
  }

  void* typed(size_t i, napi_typedarray_type want, size_t* len, const char* what) const {
    bool is = false;
    napi_is_typedarray(env, at(i), &is);
    if (!is) throw ArgError{std::string("argument ") + std::to_string(i) + ": expected a typed array (" + what + ")"};
    napi_typedarray_type t;
    size_t n;
    void* data;
    napi_value ab;
    size_t off;
    napi_get_typedarray_info(env, at(i), &t, &n, &data, &ab, &off);
    if (t != want) throw ArgError{std::string("argument ") + std::to_string(i) + ": expected " + what};
    if (len) *len = n;
    return data;
  }

  float* f32(size_t i, size_t* len = nullptr) const { return static_cast<float*>(typed(i, napi_float32_array, len, "Float32Array")); }
  float* f32OrNull(size_t i) const { return isNull(i) ? nullptr : f32(i); }
  int32_t* i32(size_t i, size_t* len = nullptr) const { return static_cast<int32_t*>(typed(i, napi_int32_array, len, "Int32Array")); }
  uint32_t* u32(size_t i, size_t* len = nullptr) const { return static_cast<uint32_t*>(typed(i, napi_uint32_array, len, "Uint32Array")); }
  double* f64(size_t i, size_t* len = nullptr) const { return static_cast<double*>(typed(i, napi_float64_array, len, "Float64Array")); }

  double num(size_t i) const {
    double v;
    if (napi_get_value_double(env, at(i), &v) != napi_ok) throw ArgError{"argument " + std::to_string(i) + ": expected a number"};
    return v;
  }
  long integer(size_t i) const { return (long)num(i); }
  bool boolean(size_t i) const {
    bool v;
    if (napi_get_value_bool(env, at(i), &v) != napi_ok) throw ArgError{"argument " + std::to_string(i) + ": expected a boolean"};
    return v;
  }
};

template <typename F>
napi_value wrap(napi_env env, napi_callback_info info, F body) {
  try {
    Args args(env, info);
    return body(args);
  } catch (const ArgError& e) {
    napi_throw_type_error(env, nullptr, e.message.c_str());
  } catch (const std::exception& e) {
    napi_throw_error(env, nullptr, e.what());
  }
  return nullptr;
}

napi_value undefinedValue(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

void need(bool ok, const std::string& msg) {
  if (!ok) throw ArgError{msg};
}

// gemm(a, b, c, m, n, k, transA, transB, accumulate, aOff, bOff, cOff) with offsets as Float64Array.
napi_value Gemm(napi_env env, napi_callback_info info) {
  return wrap(env, info, [&](Args& a) {
    size_t la, lb, lc, na, nb, nc;
    const float* A = a.f32(0, &la);
    const float* B = a.f32(1, &lb);
    float* C = a.f32(2, &lc);
    long m = a.integer(3), n = a.integer(4), k = a.integer(5);
    bool ta = a.boolean(6), tb = a.boolean(7), acc = a.boolean(8);
    const double* ao = a.f64(9, &na);
    const double* bo = a.f64(10, &nb);
    const double* co = a.f64(11, &nc);
    need(na == nc && nb == nc, "gemm: offset arrays differ in length");
    for (size_t i = 0; i < nc; i++) {
      need(ao[i] >= 0 && ao[i] + (double)m * k <= (double)la, "gemm: A offset out of range");
      need(bo[i] >= 0 && bo[i] + (double)k * n <= (double)lb, "gemm: B offset out of range");
      need(co[i] >= 0 && co[i] + (double)m * n <= (double)lc, "gemm: C offset out of range");
    }
    gemm(A, B, C, m, n, k, ta, tb, acc, ao, bo, co, (long)nc);
    return undefinedValue(env);
  });
}

napi_value Unary(napi_env env, napi_callback_info info) {
  return wrap(env, info, [&](Args& a) {
    int op = (int)a.integer(0);
    size_t n, no;
    const float* x = a.f32(1, &n);
    float* out = a.f32(2, &no);
    need(op >= 0 && op < U_COUNT && no == n, "unary: bad op or length");
    unary(op, x, out, n);
    return undefinedValue(env);
  });
}

napi_value UnaryBackward(napi_env env, napi_callback_info info) {
  return wrap(env, info, [&](Args& a) {
    int op = (int)a.integer(0);
    size_t nx, ny, ng, no;
    const float* x = a.f32(1, &nx);
    const float* y = a.f32(2, &ny);
    const float* g = a.f32(3, &ng);
    float* out = a.f32(4, &no);
    need(op >= 0 && op < U_COUNT && nx == ng && ny == ng && no == ng, "unaryBackward: bad op or length");
    unary_backward(op, x, y, g, out, ng);
    return undefinedValue(env);
  });
}

napi_value PowScalar(napi_env env, napi_callback_info info) {
  return wrap(env, info, [&](Args& a) {
    size_t n, no;
    const float* x = a.f32(0, &n);
    float p = (float)a.num(1);
    float* out = a.f32(2, &no);
    need(no == n, "powScalar: length mismatch");
    pow_scalar(x, p, out, n);
    return undefinedValue(env);
  });
}

napi_value Affine(napi_env env, napi_callback_info info) {
  return wrap(env, info, [&](Args& a) {
    size_t n, no;
    const float* x = a.f32(0, &n);
    float* out = a.f32(3, &no);
    need(no == n, "affine: length mismatch");
    affine(x, (float)a.num(1), (float)a.num(2), out, n);
    return undefinedValue(env);
  });
}

// binary(op, a, b, out, shapeAndStrides: Float64Array [nd, shape..., aStrides..., bStrides...])
napi_value Binary(napi_env env, napi_callback_info info) {
  return wrap(env, info, [&](Args& a) {
    int op = (int)a.integer(0);
    size_t na, nb, no, nm;
    const float* A = a.f32(1, &na);
    const float* B = a.f32(2, &nb);
    float* out = a.f32(3, &no);
    const double* meta = a.f64(4, &nm);
    need(op >= 0 && op < B_COUNT, "binary: bad op");
    int nd = nm > 0 ? (int)meta[0] : -1;
    need(nd >= 0 && nd <= 16 && nm == (size_t)(1 + 3 * nd), "binary: bad shape metadata (at most 16 dims)");
    long shape[16], as[16], bs[16];
    double total = 1, amax = 0, bmax = 0;
    for (int d = 0; d < nd; d++) {
      shape[d] = (long)meta[1 + d];
      as[d] = (long)meta[1 + nd + d];
      bs[d] = (long)meta[1 + 2 * nd + d];
      total *= (double)shape[d];
      if (shape[d] > 0) amax += (double)as[d] * (shape[d] - 1), bmax += (double)bs[d] * (shape[d] - 1);
    }
    need(total == (double)no, "binary: output length does not match the shape");
    need(total == 0 || (amax < (double)na && bmax < (double)nb), "binary: strides reach past an input");
    binary(op, A, as, B, bs, out, shape, nd);
    return undefinedValue(env);
  });
}

napi_value SumAxis(napi_env env, napi_callback_info info) {
  return wrap(env, info, [&](Args& a) {
    size_t nx, no;
    const float* x = a.f32(0, &nx);
    float* out = a.f32(1, &no);
    long outer = a.integer(2), inner = a.integer(3), rest = a.integer(4);
    need((double)outer * inner * rest == (double)nx && (double)outer * rest == (double)no, "sumAxis: lengths do not match");
    sum_axis(x, out, outer, inner, rest);
    return undefinedValue(env);
  });
}

napi_value MaxAxis(napi_env env, napi_callback_info info) {
  return wrap(env, info, [&](Args& a) {
    size_t nx, no, ni = 0;
    const float* x = a.f32(0, &nx);
    float* out = a.f32(1, &no);
    int32_t* idx = a.isNull(2) ? nullptr : a.i32(2, &ni);
    long outer = a.integer(3), inner = a.integer(4), rest = a.integer(5);
    need((double)outer * inner * rest == (double)nx && (double)outer * rest == (double)no && (!idx || ni == no), "maxAxis: lengths do not match");
    max_axis(x, out, idx, outer, inner, rest);
    return undefinedValue(env);
  });
}

napi_value Softmax(napi_env env, napi_callback_info info) {
  return wrap(env, info, [&](Args& a) {
    size_t nx, no;
    const float* x = a.f32(0, &nx);
    float* out = a.f32(1, &no);
    long rows = a.integer(2), cols = a.integer(3);
    need((double)rows * cols <= (double)nx && no >= nx, "softmax: lengths do not match");
    softmax(x, out, rows, cols, a.boolean(4));
    return undefinedValue(env);
  });
}

napi_value SoftmaxBackward(napi_env env, napi_callback_info info) {
  return wrap(env, info, [&](Args& a) {
    size_t ny, ng, no;
    const float* y = a.f32(0, &ny);
    const float* g = a.f32(1, &ng);
    float* out = a.f32(2, &no);
    long rows = a.integer(3), cols = a.integer(4);
    need((double)rows * cols <= (double)ny && ng >= ny && no >= ny, "softmaxBackward: lengths do not match");
    softmax_backward(y, g, out, rows, cols, a.boolean(5));
    return undefinedValue(env);
  });
}

// norm(x, w|null, b|null, out, mean, rstd, rows, cols, eps, rms, weightOffset)
napi_value Norm(napi_env env, napi_callback_info info) {
  return wrap(env, info, [&](Args& a) {
    size_t nx, no, nm, nr;
    const float* x = a.f32(0, &nx);
    const float* w = a.f32OrNull(1);
    const float* b = a.f32OrNull(2);
    float* out = a.f32(3, &no);
    float* mean = a.f32(4, &nm);
    float* rstd = a.f32(5, &nr);
    long rows = a.integer(6), cols = a.integer(7);
    need((double)rows * cols == (double)nx && no == nx && nm >= (size_t)rows && nr >= (size_t)rows, "norm: lengths do not match");
    norm(x, w, b, out, mean, rstd, rows, cols, (float)a.num(8), a.boolean(9), (float)a.num(10));
    return undefinedValue(env);
  });
}

// normBackward(x, w|null, g, mean, rstd, dx, dw|null, db|null, rows, cols, rms, weightOffset)
napi_value NormBackward(napi_env env, napi_callback_info info) {
  return wrap(env, info, [&](Args& a) {
    size_t nx, ng, nd;
    const float* x = a.f32(0, &nx);
    const float* w = a.f32OrNull(1);
    const float* g = a.f32(2, &ng);
    const float* mean = a.f32(3);
    const float* rstd = a.f32(4);
    float* dx = a.f32(5, &nd);
    float* dw = a.f32OrNull(6);
    float* db = a.f32OrNull(7);
    long rows = a.integer(8), cols = a.integer(9);
    need((double)rows * cols == (double)nx && ng == nx && nd == nx, "normBackward: lengths do not match");
    norm_backward(x, w, g, mean, rstd, dx, dw, db, rows, cols, a.boolean(10), (float)a.num(11));
    return undefinedValue(env);
  });
}

// permute(x, out, shape: Float64Array, perm: Float64Array): any typed array; elements are copied by size.
napi_value Permute(napi_env env, napi_callback_info info) {
  return wrap(env, info, [&](Args& a) {
    auto raw = [&](size_t i, size_t* len, size_t* es) {
      bool is = false;
      napi_is_typedarray(env, a.at(i), &is);
      need(is, "permute: expected typed arrays");
      napi_typedarray_type t;
      void* data;
      napi_value ab;
      size_t off;
      napi_get_typedarray_info(env, a.at(i), &t, len, &data, &ab, &off);
      switch (t) {
        case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: *es = 8; break;
        case napi_float32_array: case napi_int32_array: case napi_uint32_array: *es = 4; break;
        case napi_int16_array: case napi_uint16_array: *es = 2; break;
        default: *es = 1;
      }
      return data;
    };
    size_t nx, no, ex, eo, ns, np;
    const void* x = raw(0, &nx, &ex);
    void* out = raw(1, &no, &eo);
    const double* sh = a.f64(2, &ns);
    const double* pm = a.f64(3, &np);
    need(ex == eo && nx == no && ns == np && ns <= 16, "permute: arrays or dims do not match");
    long shape[16];
    int perm[16];
    double total = 1;
    for (size_t i = 0; i < ns; i++) shape[i] = (long)sh[i], perm[i] = (int)pm[i], total *= sh[i];
    need(total == (double)nx, "permute: shape does not match the data");
    permute(x, out, ex, shape, perm, (int)ns);
    return undefinedValue(env);
  });
}

napi_value Embedding(napi_env env, napi_callback_info info) {
  return wrap(env, info, [&](Args& a) {
    size_t nt, ni, no;
    const float* table = a.f32(0, &nt);
    const int32_t* ids = a.i32(1, &ni);
    float* out = a.f32(2, &no);
    long dim = a.integer(3);
    need(no == ni * (size_t)dim, "embedding: output length does not match");
    for (size_t i = 0; i < ni; i++) need(ids[i] >= 0 && (size_t)(ids[i] + 1) * dim <= nt, "embedding: id out of range");
    embedding(table, ids, out, ni, dim);
    return undefinedValue(env);
  });
}

// adamw(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step)
napi_value AdamW(napi_env env, napi_callback_info info) {
  return wrap(env, info, [&](Args& a) {
    size_t np, ng, nm, nv;
    float* p = a.f32(0, &np);
    const float* g = a.f32(1, &ng);
    float* m = a.f32(2, &nm);
    float* v = a.f32(3, &nv);
    need(ng == np && nm == np && nv == np, "adamw: lengths do not match");
    adamw(p, g, m, v, np, a.num(4), a.num(5), a.num(6), a.num(7), a.num(8), a.num(9));
    return undefinedValue(env);
  });
}

// A generator's xoshiro128** state (argument 0), advanced in place by the dropout kernels.
uint32_t* rngState(const Args& a, const std::string& what) {
  size_t ns;
  uint32_t* state = a.u32(0, &ns);
  need(ns == 4, what + ": state must hold 4 integers");
  return state;
}

// dropoutMask(state: Uint32Array(4), p, scale, out): out[i] = scale or 0, state advanced (see kernels.h)
napi_value DropoutMask(napi_env env, napi_callback_info info) {
  return wrap(env, info, [&](Args& a) {
    size_t no;
    uint32_t* state = rngState(a, "dropoutMask");
    float* out = a.f32(3, &no);
    dropout_mask(state, a.num(1), (float)a.num(2), out, no);
    return undefinedValue(env);
  });
}

// dropoutBits(state: Uint32Array(4), p, out: Uint32Array, n): bit i of out set when draw i is kept (see kernels.h)
napi_value DropoutBits(napi_env env, napi_callback_info info) {
  return wrap(env, info, [&](Args& a) {
    size_t no;
    uint32_t* state = rngState(a, "dropoutBits");
    uint32_t* out = a.u32(2, &no);
    const double n = a.num(3);
    need(n >= 0 && n <= (double)no * 32, "dropoutBits: n exceeds the bits of out");
    dropout_bits(state, a.num(1), out, (size_t)n);
    return undefinedValue(env);
  });
}

// attention(q, k, v, mask|null, maskStrides: Float64Array(4)|null, out, B, H, Hkv, T, S, D, scale, softcap, capacity):
// k/v are [B, Hkv, capacity, D], of which the first S positions are read
// An optional additive attention mask (argument i, or null) read through four strides (argument i + 1) over
// the scores [B, H, T, S]: the strides go to ms, and must stay inside the mask.
const float* maskArg(const Args& a, size_t i, const long (&dims)[4], long (&ms)[4], const std::string& what) {
  for (long& m : ms) m = 0;
  if (a.isNull(i)) return nullptr;
  size_t nmask, nms = 0;
  const float* mask = a.f32(i, &nmask);
  const double* msd = a.isNull(i + 1) ? nullptr : a.f64(i + 1, &nms);
  need(msd && nms == 4, what + ": mask strides must have 4 entries");
  double reach = 0;
  for (int d = 0; d < 4; d++) ms[d] = (long)msd[d], reach += (double)ms[d] * (dims[d] > 0 ? dims[d] - 1 : 0);
  need(reach < (double)nmask, what + ": mask strides reach past the mask");
  return mask;
}

napi_value Attention(napi_env env, napi_callback_info info) {
  return wrap(env, info, [&](Args& a) {
    size_t nq, nk, nv, no;
    const float* q = a.f32(0, &nq);
    const float* k = a.f32(1, &nk);
    const float* v = a.f32(2, &nv);
    float* out = a.f32(5, &no);
    long B = a.integer(6), H = a.integer(7), Hkv = a.integer(8), T = a.integer(9), S = a.integer(10), D = a.integer(11), cap = a.integer(14);
    need(Hkv > 0 && H % Hkv == 0, "attention: heads must be a multiple of kv heads");
    need(S <= cap, "attention: key length exceeds the key/value capacity");
    need((double)B * H * T * D == (double)nq && no == nq && (double)B * Hkv * cap * D == (double)nk && nv == nk, "attention: lengths do not match");
    long ms[4];
    const float* mask = maskArg(a, 3, {B, H, T, S}, ms, "attention");
    if (B * H * T > 0) attention(q, k, v, mask, mask ? ms : nullptr, out, B, H, Hkv, T, S, cap, D, (float)a.num(12), (float)a.num(13));
    return undefinedValue(env);
  });
}

// Training attention's shared arguments: q, k, v, mask|null, maskStrides|null, keep: Uint32Array|null, dropScale at
// 0..6, then B, H, Hkv, T, S, D, scale, softcap from argument `dims` on. Checks every length against the shape.
struct AttentionTrainArgs {
  AttentionOperands a;
  long ms[4];
  size_t rows;  // B·H·T
  AttentionTrainArgs(const Args& x, size_t dims, const char* what) {
    const std::string w = what;
    size_t nq, nk, nv;
    long B = x.integer(dims), H = x.integer(dims + 1), Hkv = x.integer(dims + 2), T = x.integer(dims + 3), S = x.integer(dims + 4), D = x.integer(dims + 5);
    need(B >= 0 && T >= 0 && S >= 0 && D >= 0 && Hkv > 0 && H % Hkv == 0, w + ": heads must be a multiple of kv heads");
    const float* q = x.f32(0, &nq);
    const float* k = x.f32(1, &nk);
    const float* v = x.f32(2, &nv);
    need((double)B * H * T * D == (double)nq && (double)B * Hkv * S * D == (double)nk && nv == nk, w + ": q, k, v lengths do not match the shape");
    const float* mask = maskArg(x, 3, {B, H, T, S}, ms, w);
    const uint32_t* keep = nullptr;
    if (!x.isNull(5)) {
      size_t nkeep;
      keep = x.u32(5, &nkeep);
      need((double)nkeep * 32 >= (double)B * H * T * S, w + ": keep bits shorter than the scores");
    }
    a = AttentionOperands{q, k, v, mask, mask ? ms : nullptr, keep, B, H, Hkv, T, S, S, D, (float)x.num(dims + 6), (float)x.num(dims + 7), (float)x.num(6)};
    rows = (size_t)(B * H * T);
  }
};

// attentionTrainForward(q, k, v, mask, maskStrides, keep, dropScale, out, stats, B, H, Hkv, T, S, D, scale, softcap)
napi_value AttentionTrainForward(napi_env env, napi_callback_info info) {
  return wrap(env, info, [&](Args& x) {
    AttentionTrainArgs t(x, 9, "attentionForward");
    size_t no, nl;
    float* out = x.f32(7, &no);
    float* stats = x.f32(8, &nl);
    need(no == t.rows * (size_t)t.a.D && nl == 2 * t.rows, "attentionForward: out or stats length does not match the shape");
    if (t.rows > 0) attention_blocks_forward(t.a, out, stats);
    return undefinedValue(env);
  });
}

// attentionTrainBackward(q, k, v, mask, maskStrides, keep, dropScale, out, stats, gOut, dq, dk, dv, dMask|null, B, H, Hkv,
// T, S, D, scale, softcap)
napi_value AttentionTrainBackward(napi_env env, napi_callback_info info) {
  return wrap(env, info, [&](Args& x) {
    AttentionTrainArgs t(x, 14, "attentionBackward");
    size_t no, nl, ng, ndq, ndk, ndv;
    const float* out = x.f32(7, &no);
    const float* stats = x.f32(8, &nl);
    const float* gOut = x.f32(9, &ng);
    float* dq = x.f32(10, &ndq);
    float* dk = x.f32(11, &ndk);
    float* dv = x.f32(12, &ndv);
    const size_t nkv = (size_t)(t.a.B * t.a.Hkv * t.a.S * t.a.D);
    need(no == t.rows * (size_t)t.a.D && nl == 2 * t.rows && ng == no && ndq == no && ndk == nkv && ndv == nkv,
         "attentionBackward: out, stats, gradient or result lengths do not match the shape");
    size_t ndm = 0;
    float* dMask = x.isNull(13) ? nullptr : x.f32(13, &ndm);
    need(!dMask || ndm == t.rows * (size_t)t.a.S, "attentionBackward: dMask length does not match the scores [B, H, T, S]");
    if (t.rows > 0) attention_blocks_backward(t.a, out, stats, gOut, dq, dk, dv, dMask);
    else std::fill(dk, dk + nkv, 0.0f), std::fill(dv, dv + nkv, 0.0f);
    return undefinedValue(env);
  });
}

// Arguments: the twelve weights (ln_1 weight, bias, qkv weight, bias, proj weight, bias, ln_2 weight, bias, fc
// weight, bias, fc2 weight, bias), x, key cache, value cache, mask, mask strides, B, T, cap, past, embed, heads,
// inner, eps, scale, activation.
napi_value PreNormBlockStep(napi_env env, napi_callback_info info) {
  return wrap(env, info, [&](Args& a) {
    const float* w[12];
    size_t len[12];
    for (int i = 0; i < 12; i++) w[i] = a.f32(i, &len[i]);
    size_t nx, nk, nv;
    float* x = a.f32(12, &nx);
    float* kc = a.f32(13, &nk);
    float* vc = a.f32(14, &nv);
    const long B = a.integer(17), T = a.integer(18), cap = a.integer(19), past = a.integer(20);
    PreNormBlock p{w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8], w[9], w[10], w[11],
                   a.integer(21), a.integer(22), a.integer(23), (float)a.num(24), (float)a.num(25), (int)a.integer(26)};
    const long E = p.embed, F = p.inner;
    need(E > 0 && p.heads > 0 && E % p.heads == 0 && F > 0, "preNormBlock: embed must be a positive multiple of heads, inner positive");
    need(p.activation >= 0 && p.activation < U_COUNT, "preNormBlock: unknown activation");
    const size_t want[12] = {(size_t)E, (size_t)E, (size_t)(E * 3 * E), (size_t)(3 * E), (size_t)(E * E), (size_t)E,
                             (size_t)E, (size_t)E, (size_t)(E * F), (size_t)F, (size_t)(F * E), (size_t)E};
    for (int i = 0; i < 12; i++) need(len[i] == want[i], "preNormBlock: weight " + std::to_string(i) + " has " + std::to_string(len[i]) + " values, expected " + std::to_string(want[i]));
    need(B > 0 && T > 0 && past >= 0 && past + T <= cap, "preNormBlock: need past + T <= cap");
    need((double)B * T * E == (double)nx, "preNormBlock: x must hold B·T·embed values");
    need((double)B * cap * E == (double)nk && nv == nk, "preNormBlock: caches must hold B·heads·cap·headDim values");
    long ms[4];
    const float* mask = maskArg(a, 15, {B, p.heads, T, past + T}, ms, "preNormBlock");
    prenorm_block(p, x, kc, vc, B, T, cap, past, mask, mask ? ms : nullptr);
    return undefinedValue(env);
  });
}

// Arguments: the twenty LlamaBlock weights in its order (null where absent), x, key cache, value cache, cos, sin,
// mask, mask strides, then a Float64Array of B, T, cap, past, cosBatch, hidden, heads, kvHeads, headDim, inner,
// eps, normOffset, scale, softcap, activation.
napi_value LlamaBlockStep(napi_env env, napi_callback_info info) {
  return wrap(env, info, [&](Args& a) {
    constexpr int NW = 20;
    const float* w[NW];
    size_t len[NW] = {};
    for (int i = 0; i < NW; i++) w[i] = a.isNull(i) ? nullptr : a.f32(i, &len[i]);
    size_t nx, nk, nv, nc, ns, nd;
    float* x = a.f32(20, &nx);
    float* kc = a.f32(21, &nk);
    float* vc = a.f32(22, &nv);
    const float* cos = a.f32(23, &nc);
    const float* sin = a.f32(24, &ns);
    const double* d = a.f64(27, &nd);
    need(nd == 15, "llamaBlock: dims must have 15 entries");
    const long B = (long)d[0], T = (long)d[1], cap = (long)d[2], past = (long)d[3], cosBatch = (long)d[4];
    LlamaBlock p{w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8], w[9], w[10], w[11], w[12], w[13], w[14], w[15], w[16], w[17], w[18], w[19],
                 (long)d[5], (long)d[6], (long)d[7], (long)d[8], (long)d[9], (float)d[10], (float)d[11], (float)d[12], (float)d[13], (int)d[14]};
    const long E = p.hidden, H = p.heads, KV = p.kvHeads, D = p.headDim, F = p.inner;
    need(E > 0 && H > 0 && KV > 0 && H % KV == 0 && D > 0 && D % 2 == 0 && F > 0,
         "llamaBlock: hidden, heads, kvHeads (dividing heads), headDim (even) and inner must be positive");
    need(p.activation >= 0 && p.activation < U_COUNT, "llamaBlock: unknown activation");
    static const char* names[NW] = {"input_layernorm", "q_proj weight", "q_proj bias", "k_proj weight", "k_proj bias", "v_proj weight",
                                    "v_proj bias", "o_proj weight", "o_proj bias", "q_norm", "k_norm", "post_attention_layernorm",
                                    "pre_feedforward_layernorm", "post_feedforward_layernorm", "gate_proj weight", "gate_proj bias",
                                    "up_proj weight", "up_proj bias", "down_proj weight", "down_proj bias"};
    const long want[NW] = {E, H * D * E, H * D, KV * D * E, KV * D, KV * D * E, KV * D, E * H * D, E, D, D, E, E, E, F * E, F, F * E, F, E * F, E};
    const bool required[NW] = {true, true, false, true, false, true, false, true, false, false, false, true, false, false, true, false, true, false, true, false};
    for (int i = 0; i < NW; i++) {
      need(w[i] || !required[i], std::string("llamaBlock: ") + names[i] + " is required");
      need(!w[i] || (long)len[i] == want[i], std::string("llamaBlock: ") + names[i] + " has " + std::to_string(len[i]) + " values, expected " + std::to_string(want[i]));
    }
    need(!p.qNorm == !p.kNorm, "llamaBlock: q_norm and k_norm go together");
    need(!p.preFeedforwardNorm == !p.postFeedforwardNorm, "llamaBlock: pre_ and post_feedforward_layernorm go together");
    need(B > 0 && T > 0 && past >= 0 && past + T <= cap, "llamaBlock: need past + T <= cap");
    need((double)B * T * E == (double)nx, "llamaBlock: x must hold B·T·hidden values");
    need((double)B * KV * cap * D == (double)nk && nv == nk, "llamaBlock: caches must hold B·kvHeads·cap·headDim values");
    need((cosBatch == 1 || cosBatch == B) && (double)cosBatch * T * D == (double)nc && ns == nc, "llamaBlock: cos/sin must hold cosBatch·T·headDim values, cosBatch 1 or B");
    long ms[4];
    const float* mask = maskArg(a, 25, {B, H, T, past + T}, ms, "llamaBlock");
    llama_block(p, x, kc, vc, cos, sin, cosBatch, B, T, cap, past, mask, mask ? ms : nullptr);
    return undefinedValue(env);
  });
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  return wrap(env, info, [&](Args& a) {
    long n = a.integer(0);
    need(n >= 1 && n <= 1024, "setNumThreads: expected 1..1024");
    pool_set_threads((int)n);
    return undefinedValue(env);
  });
}

napi_value Info(napi_env env, napi_callback_info info) {
  return wrap(env, info, [&](Args&) {
    static const char* names[] = {"generic", "avx2", "avx512"};
    napi_value obj, v;
    napi_create_object(env, &obj);
    napi_create_int32(env, pool_threads(), &v);
    napi_set_named_property(env, obj, "threads", v);
    napi_create_string_utf8(env, names[(int)gemm_isa()], NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, obj, "isa", v);
    napi_create_string_utf8(env, names[(int)gemm_best_isa()], NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, obj, "bestIsa", v);
    return obj;
  });
}

napi_value SetIsa(napi_env env, napi_callback_info info) {
  return wrap(env, info, [&](Args& a) {
    long isa = a.integer(0), tuning = a.argc > 1 ? a.integer(1) : 0;
    need(isa >= 0 && isa <= 2, "setIsa: expected 0 (generic), 1 (avx2) or 2 (avx512)");
    need(tuning >= 0 && tuning <= 3, "setIsa: expected tuning 0 (this CPU's), 1 (Intel), 2 (AMD) or 3 (Zen 4)");
    gemm_set_isa((Isa)isa, (Tuning)tuning);
    return undefinedValue(env);
  });
}

// measurePeak(seconds): f32 FMA throughput of all pool threads on register-resident data (the machine's
// practical peak, used by the benchmarks to state what fraction of it the GEMM reaches).
napi_value MeasurePeak(napi_env env, napi_callback_info info) {
  return wrap(env, info, [&](Args& a) {
    napi_value v;
    napi_create_double(env, measure_peak_gflops(a.num(0), a.argc > 1 ? a.num(1) : 0.0), &v);
    return v;
  });
}

// Large tensors are allocated and freed every step (activations, logits, gradients). glibc serves blocks above
// 32 MiB with fresh mmaps, so every step pays a page fault per 4 KiB on first touch, which costs far more than
// the kernels themselves on virtualized machines. Serving them from the heap and keeping freed memory (up to
// LMFORGE_MALLOC_KEEP_MB, default 4096) lets the next step reuse already-mapped pages; RSS stays at the steady
// state's peak instead of being returned and refaulted. LMFORGE_MALLOC_KEEP_MB=0 leaves glibc's defaults.
void tuneAllocator() {
#if defined(__GLIBC__)
  long keepMb = 4096;
  if (const char* env = std::getenv("LMFORGE_MALLOC_KEEP_MB")) keepMb = std::atol(env);
  if (keepMb <= 0) return;
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, (int)std::min<long>(keepMb, 2047) << 20);
#endif
}

napi_value Init(napi_env env, napi_value exports) {
  tuneAllocator();
  struct Fn {
    const char* name;
    napi_callback cb;
  } fns[] = {{"gemm", Gemm}, {"unary", Unary}, {"unaryBackward", UnaryBackward}, {"powScalar", PowScalar}, {"affine", Affine},
             {"binary", Binary}, {"sumAxis", SumAxis}, {"maxAxis", MaxAxis}, {"softmax", Softmax}, {"softmaxBackward", SoftmaxBackward},
             {"norm", Norm}, {"normBackward", NormBackward}, {"permute", Permute}, {"embedding", Embedding}, {"adamw", AdamW}, {"dropoutMask", DropoutMask}, {"dropoutBits", DropoutBits},
             {"attention", Attention}, {"attentionTrainForward", AttentionTrainForward}, {"attentionTrainBackward", AttentionTrainBackward}, {"preNormBlock", PreNormBlockStep}, {"llamaBlock", LlamaBlockStep}, {"setNumThreads", SetThreads}, {"info", Info}, {"setIsa", SetIsa}, {"measurePeak", MeasurePeak}};
  for (const Fn& f : fns) {
    napi_value fn;
    napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.cb, nullptr, &fn);
    napi_set_named_property(env, exports, f.name, fn);
  }
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
