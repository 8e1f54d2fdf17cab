import { execFileSync } from 'node:child_process';

/** The accept-queue size the kernel applies to the socket listening at `url` (ss's Send-Q for a listener). */
export function listenBacklogOf(url: string): number {
  const port = new URL(url).port;
  const line = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).trim();
  return Number(line.split(/\s+/)[2]);
}
