/** The output scan before delivery (content-safety's video frame scan behind a port). */
export interface OutputScanVerdict {
  action: 'allow' | 'review' | 'block';
  /** Seconds into the video of the frames that decided. */
  decidingFrames: number[];
  category?: string;
  /** Every scored frame, in time order (for the scan report an operator reviews). Optional for scanners that do not score frames. */
  frames?: OutputScanFrame[];
  /** The rules the frames were judged by. */
  thresholds?: { block?: OutputScanRule; review?: OutputScanRule };
}

export interface OutputScanFrame {
  /** Seconds into the video (from its start). */
  timeSec: number;
  /** Scores by category, each in [0, 1]. */
  scores: Record<string, number>;
  action: 'allow' | 'review' | 'block';
}

/** A frame reaches the rule when the sum of its `classes` scores reaches `min`. */
export interface OutputScanRule {
  classes: string[];
  min: number;
}

export interface OutputScanner {
  scan(videoPath: string): Promise<OutputScanVerdict>;
}
