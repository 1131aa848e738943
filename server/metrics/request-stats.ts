/** The request summary `/health` reports (the seed's shape). */
export interface RequestSummary {
  totalRequests: number;
  /** Answered with a status below 400. */
  successfulRequests: number;
  /** Answered with 4xx/5xx. */
  failedRequests: number;
  /** Mean duration in milliseconds, one decimal. */
  averageResponseTime: number;
}

/** Running totals of HTTP requests since start, kept in memory (per process). */
export class RequestStats {
  private total = 0;
  private successful = 0;
  private durationMsSum = 0;

  /** Records one finished request. */
  record(success: boolean, durationMs: number): void {
    this.total += 1;
    if (success) this.successful += 1;
    this.durationMsSum += durationMs;
  }

  summary(): RequestSummary {
    return {
      totalRequests: this.total,
      successfulRequests: this.successful,
      failedRequests: this.total - this.successful,
      averageResponseTime: this.total ? Math.round((this.durationMsSum / this.total) * 10) / 10 : 0,
    };
  }
}
