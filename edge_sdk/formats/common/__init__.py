"""Pieces shared by several formats: atomic artifact writing (`atomic`), the TFLite flatbuffer reader
(`flatbuffer`) and interpreter I/O (de)quantization (`quant`)."""
