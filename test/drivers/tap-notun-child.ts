// Child of tap.test.ts, run where /dev/net/tun is hidden: prints the error a TapLink open gives.
import { TapLink } from '../../drivers/tap.js';

try {
  new TapLink({ name: process.argv[2] ?? 'nacltest0' }).close();
  console.log('opened');
} catch (err) {
  console.log((err as Error).message);
}
