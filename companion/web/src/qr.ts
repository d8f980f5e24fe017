// Reading QR codes (the platform's BarcodeDetector where there is one, jsQR otherwise) and
// drawing the phone's own code.
import jsQR from "jsqr";
import QRCode from "qrcode";

interface Detector {
  detect(source: CanvasImageSource): Promise<{ rawValue: string }[]>;
}

function nativeDetector(): Detector | undefined {
  const BD = (globalThis as unknown as { BarcodeDetector?: new (o: object) => Detector }).BarcodeDetector;
  if (!BD) return undefined;
  try {
    return new BD({ formats: ["qr_code"] });
  } catch {
    return undefined;
  }
}

/** Decodes the first QR code in an image or video frame, or undefined. */
export async function decodeFrame(source: HTMLVideoElement | ImageBitmap, width: number, height: number): Promise<string | undefined> {
  const native = nativeDetector();
  if (native) {
    try {
      const found = await native.detect(source);
      if (found.length) return found[0].rawValue;
    } catch {
      // fall back to jsQR
    }
  }
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  if (!ctx || !width || !height) return undefined;
  ctx.drawImage(source, 0, 0, width, height);
  const img = ctx.getImageData(0, 0, width, height);
  return jsQR(img.data, width, height)?.data;
}

export async function decodeFile(file: Blob): Promise<string | undefined> {
  const bmp = await createImageBitmap(file);
  return decodeFrame(bmp, bmp.width, bmp.height);
}

/** Scans the camera until a code is found or `stop` is called. */
export async function scanCamera(video: HTMLVideoElement, onCode: (text: string) => void): Promise<() => void> {
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
  video.srcObject = stream;
  video.setAttribute("playsinline", "true");
  await video.play();
  let running = true;
  const stop = () => {
    running = false;
    stream.getTracks().forEach((t) => t.stop());
    video.srcObject = null;
  };
  const tick = async () => {
    if (!running) return;
    const text = await decodeFrame(video, video.videoWidth, video.videoHeight).catch(() => undefined);
    if (text && running) {
      stop();
      onCode(text);
      return;
    }
    setTimeout(tick, 200);
  };
  void tick();
  return stop;
}

export async function drawCode(canvas: HTMLCanvasElement, text: string): Promise<void> {
  await QRCode.toCanvas(canvas, text, { errorCorrectionLevel: "M", margin: 2, width: 240 });
}
