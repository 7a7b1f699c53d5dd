export async function run(_argv: string[]): Promise<number> {
  console.error('nodemeta emulator: not implemented yet');
  return 1;
}
