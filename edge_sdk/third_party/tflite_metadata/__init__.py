"""The TFLite Metadata schema's official Python bindings (flatc output), vendored unchanged from the
tflite-support 0.4.4 wheel: that wheel pins protobuf<4, which TensorFlow 2.21 cannot load, so it cannot
be a dependency. Provenance and checksums: README.md beside this file."""

from edge_sdk.third_party.tflite_metadata import metadata_schema_py_generated as schema

__all__ = ["schema"]
