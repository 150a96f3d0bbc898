export async function writeReport(_r: unknown, _dir: string): Promise<string[]> { return []; }
