// edge-sdk Cortex-M benchmark harness for TensorFlow Lite Micro.
//
// Runs the model in model_data.cc with the ops of op_resolver.h in a kTensorArenaSize arena (model_data.h:
// the arena TFLM measured for this model + margin), times each Invoke() with the DWT cycle counter and
// prints one JSON object per line over UART, the protocol `edge-sdk bench --device serial:...` reads:
//
//   {"event":"ready","protocol":2,"inputs":N,"input_bytes":B}       then ~2 s listening (uart_inputs.h)
//   {"event":"start","protocol":2,"kind":"tflm","runtime":"tflm","model_bytes":N,"runs":R,"warmup":W,...,
//    "inputs":"uart"|"random","inputs_fnv1a":H}
//   {"event":"run","i":0,"us":1234,"cycles":266544}
//   {"event":"done","runs":R,"arena_bytes":A,"peak_rss_bytes":null}
//
// The benchmark repeats every ~2 s so the host can connect at any time. In the window after `ready`
// the host may send the input tensors' bytes (`edge-sdk bench --inputs`: `input <i> <hex>` lines, then
// `run`); without them the inputs are deterministic pseudo-random bytes. Either sample is kept in
// input_copy (EDGE_SDK_INPUT_BYTES, CMakeLists.txt sets it to the model's input bytes) and copied into
// the input tensors before every Invoke(), outside the timed region: TFLM's memory planner hands an
// input tensor's memory to later tensors once its last reader ran. UART output goes through
// EdgeSdkUartWrite(): the weak default below uses TFLM's MicroPrintf (DebugLog); define your own with
// the board's UART (e.g. HAL_UART_Transmit) to override it. Input comes through EdgeSdkUartRead(): the
// next received byte or -1 (non-blocking); the weak default receives nothing, so real inputs need your
// own, e.g. from an RX interrupt's ring buffer or a polled HAL_UART_Receive with a zero timeout.

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "model_data.h"
#include "op_resolver.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_log.h"
#include "tensorflow/lite/micro/system_setup.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include "uart_inputs.h"

#ifndef TFLITE_SCHEMA_VERSION  // recent TFLM no longer ships tensorflow/lite/version.h
#define TFLITE_SCHEMA_VERSION 3
#endif
#ifndef EDGE_SDK_RUNS
#define EDGE_SDK_RUNS 50
#endif
#ifndef EDGE_SDK_WARMUP
#define EDGE_SDK_WARMUP 5
#endif
#ifndef EDGE_SDK_CPU_HZ
#error "define EDGE_SDK_CPU_HZ (the core clock in Hz; CMakeLists.txt sets it from the device profile)"
#endif
#ifndef EDGE_SDK_INPUT_BYTES
#error "define EDGE_SDK_INPUT_BYTES (the model's input tensor bytes; CMakeLists.txt sets it from the model)"
#endif

#ifndef EDGE_SDK_INPUT_WINDOW_MS
#define EDGE_SDK_INPUT_WINDOW_MS 2000
#endif

extern "C" __attribute__((weak)) void EdgeSdkUartWrite(const char* line) { MicroPrintf("%s", line); }
extern "C" __attribute__((weak)) int EdgeSdkUartRead(void) { return -1; }

namespace {

// DWT cycle counter (ARMv7-M / ARMv8-M Mainline: Cortex-M3, M4, M7, M33, M55).
volatile uint32_t& kDemcr = *reinterpret_cast<volatile uint32_t*>(0xE000EDFCu);
volatile uint32_t& kDwtCtrl = *reinterpret_cast<volatile uint32_t*>(0xE0001000u);
volatile uint32_t& kDwtCyccnt = *reinterpret_cast<volatile uint32_t*>(0xE0001004u);
volatile uint32_t& kDwtLar = *reinterpret_cast<volatile uint32_t*>(0xE0001FB0u);  // lock access (M7)

void CycleCounterInit() {
  kDemcr |= (1u << 24);  // TRCENA: enable the DWT
  kDwtLar = 0xC5ACCE55u;
  kDwtCyccnt = 0;
  kDwtCtrl |= 1u;  // CYCCNTENA
}

void Line(const char* format, ...) {
  char buffer[256];
  va_list args;
  va_start(args, format);
  vsnprintf(buffer, sizeof(buffer), format, args);
  va_end(args);
  EdgeSdkUartWrite(buffer);
}

[[noreturn]] void Fail(const char* message) {
  for (;;) {
    Line("{\"event\":\"error\",\"message\":\"%s\"}", message);
    const uint32_t start = kDwtCyccnt;
    while (kDwtCyccnt - start < static_cast<uint32_t>(EDGE_SDK_CPU_HZ)) {
    }
  }
}

alignas(16) uint8_t input_copy[EDGE_SDK_INPUT_BYTES > 0 ? EDGE_SDK_INPUT_BYTES : 1];
edge_sdk::InputBuffer inputs[edge_sdk::kMaxInputs];  // slices of input_copy, one per input tensor
size_t input_count = 0;

// Deterministic pseudo-random input bytes, the default sample.
void FillInputs() {
  uint32_t state = 12345u;
  for (size_t i = 0; i < input_count; ++i) {
    for (size_t b = 0; b < inputs[i].bytes; ++b) {
      state = state * 1664525u + 1013904223u;
      inputs[i].data[b] = static_cast<uint8_t>(state >> 24);
    }
  }
}

// The sample into the input tensors (before each Invoke, untimed).
void LoadInputs(tflite::MicroInterpreter& interpreter) {
  for (size_t i = 0; i < input_count; ++i) memcpy(interpreter.input(i)->data.uint8, inputs[i].data, inputs[i].bytes);
}

// The next received byte, waiting up to timeout_ms (DWT cycles), or -1.
int ReadByte(uint32_t timeout_ms) {
  const uint32_t start = kDwtCyccnt;
  const uint32_t limit = timeout_ms * (static_cast<uint32_t>(EDGE_SDK_CPU_HZ) / 1000u);
  for (;;) {
    const int c = EdgeSdkUartRead();
    if (c >= 0) return c & 0xFF;
    if (kDwtCyccnt - start >= limit) return -1;
  }
}

alignas(16) uint8_t tensor_arena[kTensorArenaSize];

}  // namespace

int main() {
  tflite::InitializeTarget();
  CycleCounterInit();
  const tflite::Model* model = tflite::GetModel(EDGE_SDK_MODEL_DATA);
  if (model->version() != TFLITE_SCHEMA_VERSION) Fail("model schema version mismatch");
  static EdgeOpResolver resolver;
  if (RegisterOps(resolver) != kTfLiteOk) Fail("op registration failed");
  static tflite::MicroInterpreter interpreter(model, resolver, tensor_arena, kTensorArenaSize);
  if (interpreter.AllocateTensors() != kTfLiteOk) Fail("AllocateTensors failed: kTensorArenaSize too small");
  if (interpreter.inputs_size() > edge_sdk::kMaxInputs) Fail("more model inputs than uart_inputs.h takes");
  input_count = interpreter.inputs_size();
  size_t input_bytes = 0;
  for (size_t i = 0; i < input_count; ++i) {
    inputs[i] = {input_copy + input_bytes, interpreter.input(i)->bytes};
    input_bytes += interpreter.input(i)->bytes;
  }
  if (input_bytes > sizeof(input_copy)) Fail("EDGE_SDK_INPUT_BYTES is below the model's input bytes");
  FillInputs();
  bool from_host = false;
  uint32_t fnv = 0;

  for (;;) {
    while (EdgeSdkUartRead() >= 0) {  // drop bytes that came while the benchmark ran (a late answer)
    }
    Line("{\"event\":\"ready\",\"protocol\":2,\"inputs\":%u,\"input_bytes\":%u}",
         static_cast<unsigned>(input_count), static_cast<unsigned>(input_bytes));
    char error[96];
    switch (edge_sdk::ReceiveInputs(inputs, input_count, ReadByte, EDGE_SDK_INPUT_WINDOW_MS, error, sizeof(error))) {
      case edge_sdk::InputsResult::kNothing:  // no host: the tensors keep what they hold
        break;
      case edge_sdk::InputsResult::kReceived:
        from_host = true;
        fnv = edge_sdk::Fnv1a(inputs, input_count);
        break;
      case edge_sdk::InputsResult::kError:
        Line("{\"event\":\"error\",\"message\":\"inputs over UART: %s\"}", error);
        [[fallthrough]];
      case edge_sdk::InputsResult::kRandom:
        FillInputs();
        from_host = false;
        break;
    }
    Line("{\"event\":\"start\",\"protocol\":2,\"kind\":\"tflm\",\"runtime\":\"tflm\",\"model_bytes\":%u,"
         "\"runs\":%d,\"warmup\":%d,\"arena_size\":%u,\"cpu_hz\":%lu,\"inputs\":\"%s\",\"inputs_fnv1a\":%lu}",
         static_cast<unsigned>(EDGE_SDK_MODEL_DATA_LEN), EDGE_SDK_RUNS, EDGE_SDK_WARMUP,
         static_cast<unsigned>(kTensorArenaSize), static_cast<unsigned long>(EDGE_SDK_CPU_HZ),
         from_host ? "uart" : "random", static_cast<unsigned long>(from_host ? fnv : 0u));
    for (int i = 0; i < EDGE_SDK_WARMUP; ++i) {
      LoadInputs(interpreter);
      if (interpreter.Invoke() != kTfLiteOk) Fail("Invoke failed");
    }
    for (int i = 0; i < EDGE_SDK_RUNS; ++i) {
      LoadInputs(interpreter);
      const uint32_t start = kDwtCyccnt;
      const TfLiteStatus status = interpreter.Invoke();
      const uint32_t cycles = kDwtCyccnt - start;
      if (status != kTfLiteOk) Fail("Invoke failed");
      const uint64_t us = static_cast<uint64_t>(cycles) * 1000000u / static_cast<uint64_t>(EDGE_SDK_CPU_HZ);
      Line("{\"event\":\"run\",\"i\":%d,\"us\":%lu,\"cycles\":%lu}", i, static_cast<unsigned long>(us),
           static_cast<unsigned long>(cycles));
    }
    Line("{\"event\":\"done\",\"runs\":%d,\"arena_bytes\":%u,\"peak_rss_bytes\":null}", EDGE_SDK_RUNS,
         static_cast<unsigned>(interpreter.arena_used_bytes()));
  }
}
