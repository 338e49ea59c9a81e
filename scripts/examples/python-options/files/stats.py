"""Summarise one numeric column of a CSV file (standard library only).

Usage: python3 stats.py INPUT.csv [--column NAME] [--scale X] [--bins N]
                                  [--out-dir DIR]

Multiplies every value of the column by --scale, then writes
  DIR/summary.csv  a histogram with --bins equal-width bins (bin,low,high,count)
  DIR/report.txt   count, min, max, mean of the scaled values
and prints the report on stdout.
"""
import argparse
import csv
import os
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('input')
    parser.add_argument('--column', default='value')
    parser.add_argument('--scale', type=float, default=1.0)
    parser.add_argument('--bins', type=int, default=4)
    parser.add_argument('--out-dir', default='results')
    args = parser.parse_args(argv)
    if args.bins < 1:
        parser.error('--bins must be at least 1')

    with open(args.input, newline='') as fp:
        rows = list(csv.DictReader(fp))
    if not rows or args.column not in rows[0]:
        sys.exit('column %r not found in %s' % (args.column, args.input))
    values = [float(row[args.column]) * args.scale for row in rows]

    low, high = min(values), max(values)
    width = (high - low) / args.bins or 1.0
    counts = [0] * args.bins
    for v in values:
        counts[min(int((v - low) / width), args.bins - 1)] += 1

    os.makedirs(args.out_dir, exist_ok=True)
    summary = os.path.join(args.out_dir, 'summary.csv')
    with open(summary, 'w', newline='') as fp:
        out = csv.writer(fp, lineterminator='\n')
        out.writerow(['bin', 'low', 'high', 'count'])
        for i, count in enumerate(counts):
            out.writerow([i, '%.3f' % (low + i * width),
                          '%.3f' % (low + (i + 1) * width), count])

    report = [
        'input: %s' % args.input,
        'column: %s' % args.column,
        'scale: %g' % args.scale,
        'bins: %d' % args.bins,
        'count: %d' % len(values),
        'min: %.3f' % low,
        'max: %.3f' % high,
        'mean: %.3f' % (sum(values) / len(values)),
    ]
    with open(os.path.join(args.out_dir, 'report.txt'), 'w') as fp:
        fp.write('\n'.join(report) + '\n')
    print('\n'.join(report))
    print('wrote %s and %s' % (summary, os.path.join(args.out_dir, 'report.txt')))


if __name__ == '__main__':
    main()
