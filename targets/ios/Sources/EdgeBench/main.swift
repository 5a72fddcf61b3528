// Command-line benchmark: `swift run edge-bench [--runs N] [--warmup N] [--compute-units ALL|CPU_ONLY|...]`
// (macOS), or run on a device through the XCTest target (README.md).
import EdgeBenchKit
import Foundation

var config = BenchmarkConfig.fromEnvironment()
var args = CommandLine.arguments.dropFirst().makeIterator()
while let flag = args.next() {
    guard let value = args.next() else { break }
    switch flag {
    case "--runs": config.runs = Int(value) ?? config.runs
    case "--warmup": config.warmup = Int(value) ?? config.warmup
    case "--compute-units": config.computeUnits = value
    default: FileHandle.standardError.write("unknown flag \(flag)\n".data(using: .utf8)!)
    }
}
do {
    try Benchmark.run(config) { line in print(line); fflush(stdout) }
} catch {
    print("{\"event\":\"error\",\"message\":\"\(error)\"}")
    exit(1)
}
