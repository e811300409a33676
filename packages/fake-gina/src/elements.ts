/**
 * Orbital elements for the offline demo: CelesTrak-style three-line element sets of the VIIRS
 * satellites whose epoch is "now", so a consumer that propagates them (the broker's pass direction)
 * gets usable, current elements without network access. The orbits are real SNPP / NOAA-20 /
 * NOAA-21 shapes (inclination, eccentricity, mean motion); only the epoch is moved, so positions
 * are plausible but not the real satellites' positions.
 */
import { tleChecksum } from '@viirs/common';

interface Elements {
  name: string;
  norad: number;
  intl: string;
  inclination: number;
  raan: number;
  eccentricity: string; // 7 digits, implied leading decimal point
  argp: number;
  meanAnomaly: number;
  meanMotion: number;
}

const SATELLITES: Elements[] = [
  { name: 'SUOMI NPP', norad: 37849, intl: '11061A', inclination: 98.7379, raan: 132.5149, eccentricity: '0000869', argp: 101.326, meanAnomaly: 35.7618, meanMotion: 14.19536812 },
  { name: 'NOAA 20', norad: 43013, intl: '17073A', inclination: 98.7211, raan: 132.5136, eccentricity: '0000918', argp: 76.2671, meanAnomaly: 283.8607, meanMotion: 14.19548761 },
  { name: 'NOAA 21', norad: 54234, intl: '22150A', inclination: 98.7345, raan: 132.4878, eccentricity: '0001190', argp: 88.1234, meanAnomaly: 272.0021, meanMotion: 14.19540322 },
];

function withChecksum(line68: string): string {
  if (line68.length !== 68) throw new Error(`TLE line must be 68 characters before the checksum, got ${line68.length}: ${line68}`);
  return line68 + String(tleChecksum(line68));
}

function epochField(d: Date): string {
  const year = d.getUTCFullYear();
  const start = Date.UTC(year, 0, 1);
  const doy = (d.getTime() - start) / 86_400_000 + 1;
  return `${String(year % 100).padStart(2, '0')}${doy.toFixed(8).padStart(12, '0')}`;
}

function fmt(v: number, width: number, decimals: number): string {
  return v.toFixed(decimals).padStart(width, ' ');
}

/** The element sets (CelesTrak text: name line, line 1, line 2) with epoch `at`. */
export function syntheticTle(at: Date = new Date()): string {
  const out: string[] = [];
  for (const s of SATELLITES) {
    const l1 = `1 ${String(s.norad).padStart(5, '0')}U ${s.intl.padEnd(8, ' ')} ${epochField(at)}  .00000000  00000-0  00000-0 0  999`;
    const l2 = `2 ${String(s.norad).padStart(5, '0')} ${fmt(s.inclination, 8, 4)} ${fmt(s.raan, 8, 4)} ${s.eccentricity} ${fmt(s.argp, 8, 4)} ${fmt(s.meanAnomaly, 8, 4)} ${fmt(s.meanMotion, 11, 8)}    1`;
    out.push(s.name.padEnd(24, ' '), withChecksum(l1), withChecksum(l2.padEnd(68, ' ')));
  }
  return out.join('\n') + '\n';
}
