/** The output scan before delivery (content-safety's video frame scan behind a port). */
export interface OutputScanVerdict {
  action: 'allow' | 'review' | 'block';
  /** Seconds into the video of the frames that decided. */
  decidingFrames: number[];
  category?: string;
}

export interface OutputScanner {
  scan(videoPath: string): Promise<OutputScanVerdict>;
}
