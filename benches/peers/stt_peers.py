"""Transcribes WAV files (16 kHz mono 16-bit PCM) with a peer engine, for scripts/bench-stt.

    stt_peers.py whispercpp|faster-whisper MODELS_DIR THREADS FILE...

whispercpp: whisper.cpp through pywhispercpp, on abcall's converted ggml-base.bin.
faster-whisper: CTranslate2 int8 on the CTranslate2 model directory abcall installed (the weights
the ggml file was converted from). Both Spanish, greedy (beam 1), THREADS threads, no warm-up
(abcall gets none either). Prints one JSON line per file: file, seconds (transcription only),
text. The model load is not timed.
"""

import json
import sys
import time
import wave

import numpy as np


def samples(path):
    with wave.open(path) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2, path
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768.0


def main():
    engine, models, threads, files = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
    if engine == "whispercpp":
        from pywhispercpp.model import Model

        model = Model(f"{models}/whisper-base/ggml-base.bin", n_threads=threads,
                      print_progress=False, print_realtime=False, redirect_whispercpp_logs_to=None)

        def run(audio):
            return " ".join(s.text.strip() for s in model.transcribe(audio, language="es"))
    elif engine == "faster-whisper":
        from faster_whisper import WhisperModel

        model = WhisperModel(f"{models}/whisper-base", device="cpu", compute_type="int8",
                             cpu_threads=threads)

        def run(audio):
            segments, _ = model.transcribe(audio, language="es", beam_size=1)
            return " ".join(s.text.strip() for s in segments)
    else:
        sys.exit(f"unknown engine {engine}")
    for path in files:
        audio = samples(path)
        started = time.perf_counter()
        text = run(audio)
        print(json.dumps({"file": path, "seconds": time.perf_counter() - started, "text": text},
                         ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
