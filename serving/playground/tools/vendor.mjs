// Copies what the playground page loads from npm packages into
// serving/playground/vendor/ and writes the tones abcjs plays (run by
// `make install` after `npm ci`; no network). Usage: node serving/playground/tools/vendor.mjs
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const playground = join(dirname(fileURLToPath(import.meta.url)), "..");
const root = join(playground, "..", "..");
const vendor = join(playground, "vendor");
rmSync(vendor, { recursive: true, force: true });
mkdirSync(vendor, { recursive: true });

const abcjs = join(root, "node_modules", "abcjs");
for (const [from, to] of [
  ["dist/abcjs-basic-min.js", "abcjs-basic-min.js"],
  ["abcjs-audio.css", "abcjs-audio.css"],
  ["LICENSE.md", "abcjs-LICENSE.md"],
]) {
  copyFileSync(join(abcjs, from), join(vendor, to));
}

// abcjs's synthesiser plays recorded notes that it fetches from
// `<soundFontUrl><instrument>-mp3/<note>.mp3`; its default URL is on the
// internet. These are plucked tones made here instead, one per piano key (MIDI
// 21..108), as WAV: the browser's decodeAudioData reads the bytes, not the name.
const NAMES = ["C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"];
const RATE = 16000;
const SECONDS = 1.5;

function tone(midi) {
  const frequency = 440 * 2 ** ((midi - 69) / 12);
  const n = Math.floor(RATE * SECONDS);
  const samples = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / RATE;
    const attack = Math.min(1, t / 0.005);
    let value = 0;
    for (let h = 1; h <= 4; h++) {
      if (frequency * h >= RATE / 2) break;
      // Higher harmonics fade faster, as a struck string's do.
      value += (Math.sin(2 * Math.PI * frequency * h * t) / h ** 1.5) * Math.exp(-t * (2.5 + h));
    }
    samples[i] = Math.round(0.45 * 32767 * attack * value);
  }
  return wav(samples);
}

function wav(samples) {
  const data = Buffer.from(samples.buffer);
  const header = Buffer.alloc(44);
  header.write("RIFF", 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write("WAVEfmt ", 8);
  header.writeUInt32LE(16, 16); // PCM chunk size
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(RATE, 24);
  header.writeUInt32LE(RATE * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write("data", 36);
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

const notes = join(vendor, "soundfont", "acoustic_grand_piano-mp3");
mkdirSync(notes, { recursive: true });
for (let midi = 21; midi <= 108; midi++) {
  const name = NAMES[midi % 12] + (Math.floor(midi / 12) - 1);
  writeFileSync(join(notes, `${name}.mp3`), tone(midi));
}
console.log(`playground: abcjs and 88 tones in ${vendor}`);
