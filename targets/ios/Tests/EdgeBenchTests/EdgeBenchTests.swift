// Runs the benchmark on the device under XCTest (xcodebuild test), printing the JSON lines to the log
// that `edge-sdk bench --device ios:UDID` reads.
import EdgeBenchKit
import XCTest

final class EdgeBenchTests: XCTestCase {
    func testBenchmarkPrintsJSONLines() throws {
        let config = BenchmarkConfig.fromEnvironment()
        var lines: [String] = []
        let samples = try Benchmark.run(config) { line in print(line); fflush(stdout); lines.append(line) }
        XCTAssertEqual(samples.count, config.runs)
        XCTAssertTrue(samples.allSatisfy { $0 > 0 })
        XCTAssertTrue(lines.first?.contains("\"event\":\"start\"") ?? false)
        XCTAssertTrue(lines.last?.contains("\"event\":\"done\"") ?? false)
    }
}
