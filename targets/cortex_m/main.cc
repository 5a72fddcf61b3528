// edge-sdk Cortex-M benchmark harness for TensorFlow Lite Micro.
//
// Runs the model in model_data.cc with the ops of op_resolver.h in a kTensorArenaSize arena (model_data.h:
// the arena TFLM measured for this model + margin), times each Invoke() with the DWT cycle counter and
// prints one JSON object per line over UART, the protocol `edge-sdk bench --device serial:...` reads:
//
//   {"event":"start","protocol":1,"kind":"tflm","runtime":"tflm","model_bytes":N,"runs":R,"warmup":W,...}
//   {"event":"run","i":0,"us":1234,"cycles":266544}
//   {"event":"done","runs":R,"arena_bytes":A,"peak_rss_bytes":null}
//
// The benchmark repeats every ~2 s so the host can connect at any time. UART output goes through
// EdgeSdkUartWrite(): the weak default below uses TFLM's MicroPrintf (DebugLog); define your own with
// the board's UART (e.g. HAL_UART_Transmit) to override it.

#include <cstdarg>
#include <cstdint>
#include <cstdio>

#include "model_data.h"
#include "op_resolver.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_log.h"
#include "tensorflow/lite/micro/system_setup.h"
#include "tensorflow/lite/schema/schema_generated.h"

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

extern "C" __attribute__((weak)) void EdgeSdkUartWrite(const char* line) { MicroPrintf("%s", line); }

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
  char buffer[192];
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

// Deterministic pseudo-random input bytes (the timing of these kernels does not depend on values).
void FillInputs(tflite::MicroInterpreter& interpreter) {
  uint32_t state = 12345u;
  for (size_t i = 0; i < interpreter.inputs_size(); ++i) {
    TfLiteTensor* input = interpreter.input(i);
    for (size_t b = 0; b < input->bytes; ++b) {
      state = state * 1664525u + 1013904223u;
      input->data.uint8[b] = static_cast<uint8_t>(state >> 24);
    }
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
  FillInputs(interpreter);

  for (;;) {
    Line("{\"event\":\"start\",\"protocol\":1,\"kind\":\"tflm\",\"runtime\":\"tflm\",\"model_bytes\":%u,"
         "\"runs\":%d,\"warmup\":%d,\"arena_size\":%u,\"cpu_hz\":%lu}",
         static_cast<unsigned>(EDGE_SDK_MODEL_DATA_LEN), EDGE_SDK_RUNS, EDGE_SDK_WARMUP,
         static_cast<unsigned>(kTensorArenaSize), static_cast<unsigned long>(EDGE_SDK_CPU_HZ));
    for (int i = 0; i < EDGE_SDK_WARMUP; ++i) {
      if (interpreter.Invoke() != kTfLiteOk) Fail("Invoke failed");
    }
    for (int i = 0; i < EDGE_SDK_RUNS; ++i) {
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
    const uint32_t pause = kDwtCyccnt;
    while (kDwtCyccnt - pause < 2u * static_cast<uint32_t>(EDGE_SDK_CPU_HZ)) {
    }
  }
}
