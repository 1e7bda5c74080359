/* dfota CLI: the help of each subcommand (dfota CMD --help, dfota help
 * CMD). docs/cli.md and docs/dfota.1 say the same at more length. */
#include "commands.h"

#define COMMON_POLICY                                                                             \
    "device policy (the checks the device's engine makes; any subset):\n"                        \
    "  --product ID              the device's product id (default: any)\n"                       \
    "  --security-counter N      the device's anti-rollback counter (default 0)\n"               \
    "  --slot-size N             bytes of a bank / the firmware region (default: fits)\n"         \
    "  --layout ab|inplace       the device's layout (default: the package's)\n"                  \
    "  --sector-size N           its erase sector (default: the package's, A/B 4096)\n"           \
    "  --scratch-sectors N       in place: its scratch sectors (default: lag + 2)\n"             \
    "  --require-signed          refuse an unsigned package (without --pub)\n"                   \
    "sizes take suffixes: 4k = 4KiB = 4096, 1M = 1MiB, 64kB = 64000\n"

const char HELP_KEYGEN[] =
    "usage: dfota keygen -o KEY [-f] [-q] [--json]\n"
    "\n"
    "Write a new Ed25519 key pair: KEY (secret, PEM PKCS#8, mode 0600 less the umask)\n"
    "and KEY.pub (public, PEM SubjectPublicKeyInfo, 0644 less the umask). Both are\n"
    "written or neither. Prints the key id (first 8 bytes of SHA-256 of the public key).\n"
    "\n"
    "  -o, --output KEY   the secret key file; the public key goes to KEY.pub (required)\n"
    "  -f, --force        replace an existing pair (default: refuse)\n"
    "  -q, --quiet        print nothing on success\n"
    "      --json         print {\"secret\",\"public\",\"key_id\"}\n"
    "\n"
    "example: dfota keygen -o vendor.key\n";

const char HELP_KEYID[] =
    "usage: dfota keyid [--json] [--pass-file F | --pass-env VAR] KEY...\n"
    "\n"
    "Print the key id of each key file: the 16 hex digits a package's header names.\n"
    "Takes public or secret keys: PEM or DER, PKCS#8 (encrypted: passphrase asked on the\n"
    "terminal, or --pass-file/--pass-env), SubjectPublicKeyInfo, raw 32-byte public keys.\n"
    "\n"
    "  --json             one {\"file\",\"key_id\",\"public_key\"} line per key\n"
    "  --pass-file F      passphrase: the first line of F\n"
    "  --pass-env VAR     passphrase: the environment variable VAR\n"
    "\n"
    "example: dfota keyid vendor.key.pub\n";

const char HELP_DIFF[] =
    "usage: dfota diff --from-version V --to-version V [options] OLD NEW -o PKG\n"
    "\n"
    "Build a package that turns the image OLD into NEW. OLD and NEW are raw binaries,\n"
    "Intel HEX or ELF (detected; --input-format). Prints a one-line summary on stderr.\n"
    "\n"
    "  --from-version V          source version, <= 31 bytes of printable ASCII (required)\n"
    "  --to-version V            target version, likewise (required)\n"
    "  --product ID              product id; a device with one takes only its own (default: empty)\n"
    "  --key KEY                 sign with this secret key (PEM or DER PKCS#8, may be encrypted)\n"
    "  --pass-file F, --pass-env VAR   passphrase of an encrypted KEY (default: ask)\n"
    "  --unsigned                no signature, no warning (to sign later: dfota digest/sign)\n"
    "  --layout ab|inplace       the device's flash layout (default ab)\n"
    "  --sector-size N           in place: erase sector, power of two 256..1M (default 4096)\n"
    "  --scratch-sectors N       in place: the device's scratch sectors, 2..9 (default 4)\n"
    "  --direction auto|plain|forward|backward|RUNS   in place: the order sectors are written in\n"
    "                            (default auto: searched, maybe in runs; plain: the smaller of\n"
    "                            forward and backward, for engines before runs; RUNS: 0-9,20-10,...)\n"
    "  --block-digest device|4|16  in place, how a block is checked before its commit:\n"
    "                            device (default): the device's dry run computes the\n"
    "                            digests (no bytes in the package; staging needs room for\n"
    "                            them); 4 or 16: a chain of 4- or 16-byte entries in the\n"
    "                            package, for devices whose libdfota predates device digests\n"
    "  --target-window auto|ring|block  in place, DZ2: how far back target copies reach:\n"
    "                            ring, the decoder's last 256 bytes (a dry run that writes\n"
    "                            nothing); block, the whole current block (the device's dry\n"
    "                            run programs each block into scratch); auto (default): block\n"
    "                            where the payload gains by it, ring with --block-digest 4|16\n"
    "                            or --package-format 1\n"
    "  --saved-sectors N         in place, direction auto: at most N (0..2, default 2) source\n"
    "                            sectors the device copies into staging before the update,\n"
    "                            where the write order cannot keep their bytes readable\n"
    "  --security-counter N      anti-rollback counter, 32-bit (default 0)\n"
    "  --package-format 1|2      header layout: 2 compact (default), 1 for devices whose\n"
    "                            libdfota predates format 2 (312-byte header)\n"
    "  --decoder-ram 16k|4k      the device decoder's RAM profile: 16k (default) or 4k,\n"
    "                            a smaller model for DFOTA_CFG_DECODER_RAM_SMALL builds\n"
    "  --codec auto|dz1|dz2      delta codec: auto the smaller package (default); dz1 or dz2\n"
    "                            for devices whose libdfota carries that codec only\n"
    "  --input-format auto|bin|hex|elf     how to read OLD and NEW (default auto)\n"
    "  --base ADDR               HEX/ELF: address of the image's first byte (default: lowest)\n"
    "  -o, --output PKG          the package; '-' is stdout (required)\n"
    "  -f, --force               replace an existing PKG (default: refuse)\n"
    "  -q, --quiet               no summary, no warning    -v, --verbose  phase times, details\n"
    "      --json                the summary as JSON on stdout\n"
    "\n"
    "example: dfota diff --from-version 1.0 --to-version 1.1 --key vendor.key \\\n"
    "             old.bin new.bin -o update.pkg\n";

const char HELP_INSPECT[] =
    "usage: dfota inspect [--json] [--pub KEY.pub] PKG\n"
    "\n"
    "Show everything in a package's header: product, versions, sizes, digests, layout,\n"
    "sector size, lag and the scratch sectors a device needs, how blocks are checked (the\n"
    "block digest chain's entry length, or the device's digest table and the staging it\n"
    "needs), stream CRC, RAM, counter,\n"
    "key id; whether the payload is intact; with --pub whether the signature holds.\n"
    "PKG '-' reads stdin. Exit 0 when the header is readable, even if the payload is not.\n"
    "\n"
    "  --json             one JSON object on stdout\n"
    "  --pub KEY.pub      check the signature with this public key\n"
    "\n"
    "example: curl -s https://example.com/update.pkg | dfota inspect -\n";

const char HELP_VERIFY[] =
    "usage: dfota verify [--pub KEY.pub] [--source OLD] [device policy] PKG\n"
    "\n"
    "Exit 0 only if PKG is intact, signed by KEY (--pub), built from OLD (--source) and\n"
    "accepted by a device with the given policy. PKG '-' reads stdin.\n"
    "\n"
    "  --pub KEY.pub             the public key devices hold (PEM, DER or raw 32 bytes)\n"
    "  --source OLD              the image devices run (bin, HEX or ELF; --input-format, --base)\n"
    COMMON_POLICY
    "  -q, --quiet               no output on success    --json  the result as JSON\n"
    "\n"
    "example: dfota verify --pub vendor.key.pub --source old.bin --product BC20 \\\n"
    "             --security-counter 3 --require-signed update.pkg\n";

const char HELP_APPLY[] =
    "usage: dfota apply [--pub KEY.pub] [device policy] OLD PKG -o NEW\n"
    "\n"
    "Apply PKG to the image OLD with the device engine on a simulated NOR flash laid out\n"
    "as the policy says (default: as the package needs) and write the target to NEW.\n"
    "Prints a one-line summary on stderr (size, erases, bytes programmed, time).\n"
    "\n"
    "  --pub KEY.pub             check the signature as the device does (default: none)\n"
    "  --input-format auto|bin|hex|elf, --base ADDR   how to read OLD\n"
    COMMON_POLICY
    "  -o, --output NEW          the target image; '-' is stdout (required)\n"
    "  -f, --force               replace an existing NEW (default: refuse)\n"
    "  -q, --quiet               no summary    -v, --verbose  flash counters\n"
    "      --json                the summary as JSON on stdout\n"
    "\n"
    "example: dfota apply --pub vendor.key.pub old.bin update.pkg -o check.bin\n";

const char HELP_DIGEST[] =
    "usage: dfota digest --pub KEY.pub [-o FILE] [--json] PKG\n"
    "\n"
    "Print (hex) the header bytes an Ed25519 signature covers (all before the signature:\n"
    "248 in format 1, 124 to 243 in format 2), with the key id of\n"
    "KEY.pub put in, for a signer that keeps the secret key (HSM, signing service).\n"
    "Sign those bytes with pure Ed25519 and give the signature to 'dfota sign'.\n"
    "\n"
    "  --pub KEY.pub      the public key of the signer (required)\n"
    "  -o FILE            write the raw bytes to FILE instead ('-': stdout)\n"
    "  -f, --force        replace an existing FILE\n"
    "  --json             {\"key_id\",\"message\",\"message_size\",\"sha256\"}\n"
    "\n"
    "example: dfota digest --pub hsm.pub -o msg.bin update.pkg\n"
    "         openssl pkeyutl -sign -rawin -inkey hsm.key -in msg.bin -out sig.bin\n"
    "         dfota sign --pub hsm.pub --signature sig.bin update.pkg -o signed.pkg\n";

const char HELP_SIGN[] =
    "usage: dfota sign (--key KEY | --pub KEY.pub --signature SIG) PKG -o OUT\n"
    "\n"
    "Sign a package (made with 'dfota diff --unsigned', or re-sign one): with --key by\n"
    "this tool, or insert a detached signature SIG made over the bytes 'dfota digest'\n"
    "printed. The signature is checked before OUT is written.\n"
    "\n"
    "  --key KEY                 secret key (PEM/DER PKCS#8, may be encrypted)\n"
    "  --pass-file F, --pass-env VAR   its passphrase (default: ask)\n"
    "  --pub KEY.pub             the public key of a detached signature\n"
    "  --signature SIG           64 raw bytes or 128 hex digits\n"
    "  -o, --output OUT          the signed package; '-' is stdout (required)\n"
    "  -f, --force               replace an existing OUT    -q, --quiet  no summary\n"
    "      --json                {\"package\",\"key_id\",\"detached\"} on stdout\n"
    "\n"
    "example: dfota sign --key vendor.key unsigned.pkg -o update.pkg\n";
