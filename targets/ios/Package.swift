// swift-tools-version:5.9
// edge-sdk iOS benchmark harness: times Core ML predictions of the bundled model.mlpackage and prints
// the JSON-lines protocol `edge-sdk bench` reads. Build on macOS with Xcode 15+ (see README.md).
import PackageDescription

let package = Package(
    name: "EdgeBench",
    platforms: [.iOS(.v16), .macOS(.v13)],
    products: [.executable(name: "edge-bench", targets: ["EdgeBench"])],
    targets: [
        // model.mlpackage is a symlink to the artifact `edge-sdk build` wrote next to harness/;
        // Xcode compiles it to model.mlmodelc inside the bundle. inputs/ is copied as it is: where
        // `edge-sdk bench --inputs` puts the sample (manifest.json + raw input files) Benchmark.swift reads.
        .target(name: "EdgeBenchKit", resources: [.process("model.mlpackage"), .copy("inputs")]),
        .executableTarget(name: "EdgeBench", dependencies: ["EdgeBenchKit"]),
        .testTarget(name: "EdgeBenchTests", dependencies: ["EdgeBenchKit"]),
    ]
)
