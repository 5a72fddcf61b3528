// edge-sdk serial protocol 2, the host -> board half: real inputs for `edge-sdk bench --inputs`.
//
// Before each benchmark main.cc prints {"event":"ready","protocol":2,...} and listens for a window.
// The host answers with lines (ASCII, each ends with \n; a \r before it is ignored):
//
//   input <i> <hex>   the bytes of input tensor i, already in the tensor's type (int8/int16 quantized
//                     with its scale and zero point), two hex digits per byte, exactly tensor->bytes
//   run               start the benchmark: every input came -> the tensors hold them; no input line
//                     came -> random data again; some came -> an error, random data
//
// Nothing in the window (no host, or a board without UART receive) leaves the tensors as they are.
// Hex is decoded straight into the tensors: no line buffer, any input size. Plain C++ without TFLM,
// so the host tests compile it (tests/devices/test_serial.py).

#ifndef EDGE_SDK_UART_INPUTS_H_
#define EDGE_SDK_UART_INPUTS_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace edge_sdk {

struct InputBuffer {
  uint8_t* data;
  size_t bytes;
};

enum class InputsResult { kNothing = 0, kRandom = 1, kReceived = 2, kError = 3 };

// The next received byte (0..255), or -1 when none came within timeout_ms.
using ReadByte = int (*)(uint32_t timeout_ms);

constexpr uint32_t kByteTimeoutMs = 1000;  // silence allowed once the host has started a line
constexpr size_t kMaxInputs = 32;

inline int HexValue(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// FNV-1a (32 bit) over every input's bytes in order: the host checks it against what it sent.
inline uint32_t Fnv1a(const InputBuffer* inputs, size_t count) {
  uint32_t hash = 2166136261u;
  for (size_t i = 0; i < count; ++i) {
    for (size_t b = 0; b < inputs[i].bytes; ++b) {
      hash = (hash ^ inputs[i].data[b]) * 16777619u;
    }
  }
  return hash;
}

// Reads the host's lines of one window (the first byte must come within window_ms). On kError,
// `error` says what went wrong (no quotes: it goes into a JSON string as it is). After an error the
// lines up to `run` are still read, so none is left for the next window.
inline InputsResult ReceiveInputs(InputBuffer* inputs, size_t count, ReadByte read_byte, uint32_t window_ms,
                                  char* error, size_t error_size) {
  uint32_t received = 0;  // bit i: input i came in this window
  bool failed = false;
  error[0] = '\0';
  auto fail = [&](const char* format, unsigned a, unsigned b, unsigned c) {
    if (!failed) snprintf(error, error_size, format, a, b, c);
    failed = true;
  };
  int c = read_byte(window_ms);
  if (c < 0) return InputsResult::kNothing;
  for (;;) {
    char word[8];
    size_t n = 0;
    while (c >= 0 && c != ' ' && c != '\n') {
      if (c != '\r' && n < sizeof(word) - 1) word[n++] = static_cast<char>(c);
      c = read_byte(kByteTimeoutMs);
    }
    word[n] = '\0';
    if (c < 0) break;
    if (strcmp(word, "run") == 0 && c == '\n') {
      const uint32_t all = count >= 32 ? 0xFFFFFFFFu : (1u << count) - 1u;
      if (failed) return InputsResult::kError;
      if (received == 0) return InputsResult::kRandom;
      if (received != all) {
        unsigned missing = 0;
        while (received & (1u << missing)) ++missing;
        fail("input %u never came (%u of %u inputs did)", missing, static_cast<unsigned>(__builtin_popcount(received)),
             static_cast<unsigned>(count));
        return InputsResult::kError;
      }
      return InputsResult::kReceived;
    }
    if (strcmp(word, "input") == 0 && c == ' ') {
      size_t index = 0, digits = 0;
      while ((c = read_byte(kByteTimeoutMs)) >= '0' && c <= '9' && digits < 6) {
        index = index * 10 + static_cast<size_t>(c - '0');
        ++digits;
      }
      const bool known = digits > 0 && c == ' ' && index < count;
      size_t got = 0;
      int high = -1;
      bool hex = true;
      while (c >= 0 && c != '\n') {
        c = read_byte(kByteTimeoutMs);
        if (!known || c < 0 || c == '\n' || c == '\r') continue;
        const int value = HexValue(c);
        if (value < 0) {
          hex = false;
        } else if (high < 0) {
          high = value;
        } else {
          if (got < inputs[index].bytes) inputs[index].data[got] = static_cast<uint8_t>((high << 4) | value);
          ++got;
          high = -1;
        }
      }
      if (c < 0) break;
      if (!known) {
        fail("input line with a bad index (the model has %u inputs)", static_cast<unsigned>(count), 0, 0);
      } else if (!hex || high >= 0) {
        fail("input %u is not an even count of hex digits", static_cast<unsigned>(index), 0, 0);
      } else if (got != inputs[index].bytes) {
        fail("input %u: %u bytes came, the tensor takes %u", static_cast<unsigned>(index), static_cast<unsigned>(got),
             static_cast<unsigned>(inputs[index].bytes));
      } else {
        received |= 1u << index;
      }
    } else {
      while (c >= 0 && c != '\n') c = read_byte(kByteTimeoutMs);
      if (c < 0) break;
      fail("unknown line from the host (expected input or run)", 0, 0, 0);
    }
    c = read_byte(kByteTimeoutMs);  // the next line
    if (c < 0) break;
  }
  fail("the host went silent before its run line", 0, 0, 0);
  return InputsResult::kError;
}

}  // namespace edge_sdk

#endif  // EDGE_SDK_UART_INPUTS_H_
