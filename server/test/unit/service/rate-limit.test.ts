import { RateLimiter } from '../../../src/service/rate-limit';

describe('RateLimiter', () => {
  it('takes at most the limit per key in a sliding window, and says when the next may go', () => {
    let now = 1_000_000;
    const limiter = new RateLimiter(3, 60_000, () => now);
    expect(limiter.retryAfterMs('alice')).toBe(0);
    expect(limiter.take('alice')).toBe(true);
    now += 10_000;
    expect(limiter.take('alice')).toBe(true);
    expect(limiter.take('alice')).toBe(true);
    expect(limiter.take('alice')).toBe(false);
    // Another key has its own window.
    expect(limiter.take('bob')).toBe(true);
    // The first start leaves the window 60 s after it was taken: 50 s from now.
    expect(limiter.retryAfterMs('alice')).toBe(50_000);
    now += 49_999;
    expect(limiter.take('alice')).toBe(false);
    expect(limiter.retryAfterMs('alice')).toBe(1);
    now += 1;
    expect(limiter.retryAfterMs('alice')).toBe(0);
    expect(limiter.take('alice')).toBe(true);
    // The next two were taken together: both leave at once, 10 s later.
    expect(limiter.retryAfterMs('alice')).toBe(10_000);
  });
});
