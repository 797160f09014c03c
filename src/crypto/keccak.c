/*
 * keccak: Keccak-256 as Ethereum uses it (Keccak[r=1088, c=512] with the original 0x01
 * padding, not FIPS-202 SHA3-256's 0x06). Hashing sits under every address, signature
 * digest, EIP-712 struct and ledger entry, so the permutation is unrolled: the 25 lanes
 * live in locals and each loop iteration runs two rounds (A -> E -> A), which lets the
 * compiler keep the state in registers. The round body is the standard theta / rho-pi /
 * chi / iota sequence written out lane by lane. This file is built with -O3.
 */
#include "crypto/crypto.h"

#include <sodium.h>
#include <string.h>

#define RATE 136 /* bytes absorbed per permutation for a 256-bit capacity of 512 */

#define ROL64(a, n) (((a) << (n)) | ((a) >> (64 - (n))))

static const uint64_t RC[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

/* Lane s[x + 5y] is named A<row y: b g k m s><column x: a e i o u>. */
static void keccak_f1600(uint64_t s[25])
{
    uint64_t Aba = s[0];
    uint64_t Abe = s[1];
    uint64_t Abi = s[2];
    uint64_t Abo = s[3];
    uint64_t Abu = s[4];
    uint64_t Aga = s[5];
    uint64_t Age = s[6];
    uint64_t Agi = s[7];
    uint64_t Ago = s[8];
    uint64_t Agu = s[9];
    uint64_t Aka = s[10];
    uint64_t Ake = s[11];
    uint64_t Aki = s[12];
    uint64_t Ako = s[13];
    uint64_t Aku = s[14];
    uint64_t Ama = s[15];
    uint64_t Ame = s[16];
    uint64_t Ami = s[17];
    uint64_t Amo = s[18];
    uint64_t Amu = s[19];
    uint64_t Asa = s[20];
    uint64_t Ase = s[21];
    uint64_t Asi = s[22];
    uint64_t Aso = s[23];
    uint64_t Asu = s[24];
    uint64_t Eba, Ebe, Ebi, Ebo, Ebu, Ega, Ege, Egi, Ego, Egu, Eka, Eke, Eki, Eko, Eku, Ema, Eme,
        Emi, Emo, Emu, Esa, Ese, Esi, Eso, Esu;
    uint64_t Ca, Ce, Ci, Co, Cu, Da, De, Di, Do, Du, Ba, Be, Bi, Bo, Bu;

    for (int i = 0; i < 24; i += 2) {
        Ca = Aba ^ Aga ^ Aka ^ Ama ^ Asa;
        Ce = Abe ^ Age ^ Ake ^ Ame ^ Ase;
        Ci = Abi ^ Agi ^ Aki ^ Ami ^ Asi;
        Co = Abo ^ Ago ^ Ako ^ Amo ^ Aso;
        Cu = Abu ^ Agu ^ Aku ^ Amu ^ Asu;
        Da = Cu ^ ROL64(Ce, 1);
        De = Ca ^ ROL64(Ci, 1);
        Di = Ce ^ ROL64(Co, 1);
        Do = Ci ^ ROL64(Cu, 1);
        Du = Co ^ ROL64(Ca, 1);
        Ba = (Aba ^ Da);
        Be = ROL64(Age ^ De, 44);
        Bi = ROL64(Aki ^ Di, 43);
        Bo = ROL64(Amo ^ Do, 21);
        Bu = ROL64(Asu ^ Du, 14);
        Eba = Ba ^ (~Be & Bi) ^ RC[i];
        Ebe = Be ^ (~Bi & Bo);
        Ebi = Bi ^ (~Bo & Bu);
        Ebo = Bo ^ (~Bu & Ba);
        Ebu = Bu ^ (~Ba & Be);
        Ba = ROL64(Abo ^ Do, 28);
        Be = ROL64(Agu ^ Du, 20);
        Bi = ROL64(Aka ^ Da, 3);
        Bo = ROL64(Ame ^ De, 45);
        Bu = ROL64(Asi ^ Di, 61);
        Ega = Ba ^ (~Be & Bi);
        Ege = Be ^ (~Bi & Bo);
        Egi = Bi ^ (~Bo & Bu);
        Ego = Bo ^ (~Bu & Ba);
        Egu = Bu ^ (~Ba & Be);
        Ba = ROL64(Abe ^ De, 1);
        Be = ROL64(Agi ^ Di, 6);
        Bi = ROL64(Ako ^ Do, 25);
        Bo = ROL64(Amu ^ Du, 8);
        Bu = ROL64(Asa ^ Da, 18);
        Eka = Ba ^ (~Be & Bi);
        Eke = Be ^ (~Bi & Bo);
        Eki = Bi ^ (~Bo & Bu);
        Eko = Bo ^ (~Bu & Ba);
        Eku = Bu ^ (~Ba & Be);
        Ba = ROL64(Abu ^ Du, 27);
        Be = ROL64(Aga ^ Da, 36);
        Bi = ROL64(Ake ^ De, 10);
        Bo = ROL64(Ami ^ Di, 15);
        Bu = ROL64(Aso ^ Do, 56);
        Ema = Ba ^ (~Be & Bi);
        Eme = Be ^ (~Bi & Bo);
        Emi = Bi ^ (~Bo & Bu);
        Emo = Bo ^ (~Bu & Ba);
        Emu = Bu ^ (~Ba & Be);
        Ba = ROL64(Abi ^ Di, 62);
        Be = ROL64(Ago ^ Do, 55);
        Bi = ROL64(Aku ^ Du, 39);
        Bo = ROL64(Ama ^ Da, 41);
        Bu = ROL64(Ase ^ De, 2);
        Esa = Ba ^ (~Be & Bi);
        Ese = Be ^ (~Bi & Bo);
        Esi = Bi ^ (~Bo & Bu);
        Eso = Bo ^ (~Bu & Ba);
        Esu = Bu ^ (~Ba & Be);

        Ca = Eba ^ Ega ^ Eka ^ Ema ^ Esa;
        Ce = Ebe ^ Ege ^ Eke ^ Eme ^ Ese;
        Ci = Ebi ^ Egi ^ Eki ^ Emi ^ Esi;
        Co = Ebo ^ Ego ^ Eko ^ Emo ^ Eso;
        Cu = Ebu ^ Egu ^ Eku ^ Emu ^ Esu;
        Da = Cu ^ ROL64(Ce, 1);
        De = Ca ^ ROL64(Ci, 1);
        Di = Ce ^ ROL64(Co, 1);
        Do = Ci ^ ROL64(Cu, 1);
        Du = Co ^ ROL64(Ca, 1);
        Ba = (Eba ^ Da);
        Be = ROL64(Ege ^ De, 44);
        Bi = ROL64(Eki ^ Di, 43);
        Bo = ROL64(Emo ^ Do, 21);
        Bu = ROL64(Esu ^ Du, 14);
        Aba = Ba ^ (~Be & Bi) ^ RC[i + 1];
        Abe = Be ^ (~Bi & Bo);
        Abi = Bi ^ (~Bo & Bu);
        Abo = Bo ^ (~Bu & Ba);
        Abu = Bu ^ (~Ba & Be);
        Ba = ROL64(Ebo ^ Do, 28);
        Be = ROL64(Egu ^ Du, 20);
        Bi = ROL64(Eka ^ Da, 3);
        Bo = ROL64(Eme ^ De, 45);
        Bu = ROL64(Esi ^ Di, 61);
        Aga = Ba ^ (~Be & Bi);
        Age = Be ^ (~Bi & Bo);
        Agi = Bi ^ (~Bo & Bu);
        Ago = Bo ^ (~Bu & Ba);
        Agu = Bu ^ (~Ba & Be);
        Ba = ROL64(Ebe ^ De, 1);
        Be = ROL64(Egi ^ Di, 6);
        Bi = ROL64(Eko ^ Do, 25);
        Bo = ROL64(Emu ^ Du, 8);
        Bu = ROL64(Esa ^ Da, 18);
        Aka = Ba ^ (~Be & Bi);
        Ake = Be ^ (~Bi & Bo);
        Aki = Bi ^ (~Bo & Bu);
        Ako = Bo ^ (~Bu & Ba);
        Aku = Bu ^ (~Ba & Be);
        Ba = ROL64(Ebu ^ Du, 27);
        Be = ROL64(Ega ^ Da, 36);
        Bi = ROL64(Eke ^ De, 10);
        Bo = ROL64(Emi ^ Di, 15);
        Bu = ROL64(Eso ^ Do, 56);
        Ama = Ba ^ (~Be & Bi);
        Ame = Be ^ (~Bi & Bo);
        Ami = Bi ^ (~Bo & Bu);
        Amo = Bo ^ (~Bu & Ba);
        Amu = Bu ^ (~Ba & Be);
        Ba = ROL64(Ebi ^ Di, 62);
        Be = ROL64(Ego ^ Do, 55);
        Bi = ROL64(Eku ^ Du, 39);
        Bo = ROL64(Ema ^ Da, 41);
        Bu = ROL64(Ese ^ De, 2);
        Asa = Ba ^ (~Be & Bi);
        Ase = Be ^ (~Bi & Bo);
        Asi = Bi ^ (~Bo & Bu);
        Aso = Bo ^ (~Bu & Ba);
        Asu = Bu ^ (~Ba & Be);
    }
    s[0] = Aba;
    s[1] = Abe;
    s[2] = Abi;
    s[3] = Abo;
    s[4] = Abu;
    s[5] = Aga;
    s[6] = Age;
    s[7] = Agi;
    s[8] = Ago;
    s[9] = Agu;
    s[10] = Aka;
    s[11] = Ake;
    s[12] = Aki;
    s[13] = Ako;
    s[14] = Aku;
    s[15] = Ama;
    s[16] = Ame;
    s[17] = Ami;
    s[18] = Amo;
    s[19] = Amu;
    s[20] = Asa;
    s[21] = Ase;
    s[22] = Asi;
    s[23] = Aso;
    s[24] = Asu;
}

static uint64_t load64_le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void absorb_block(uint64_t s[25], const uint8_t *block)
{
    for (int i = 0; i < RATE / 8; i++)
        s[i] ^= load64_le(block + 8 * i);
    keccak_f1600(s);
}

void coh_crypto_keccak_init(coh_crypto_keccak *st)
{
    memset(st, 0, sizeof *st);
}

void coh_crypto_keccak_update(coh_crypto_keccak *st, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (st->buf_len) {
        size_t take = RATE - st->buf_len;
        if (take > len)
            take = len;
        memcpy(st->buf + st->buf_len, p, take);
        st->buf_len += take;
        p += take;
        len -= take;
        if (st->buf_len < RATE)
            return;
        absorb_block(st->lanes, st->buf);
        st->buf_len = 0;
    }
    /* Whole blocks straight from the input: no copy on the bulk path. */
    for (; len >= RATE; p += RATE, len -= RATE)
        absorb_block(st->lanes, p);
    if (len) {
        memcpy(st->buf, p, len);
        st->buf_len = len;
    }
}

void coh_crypto_keccak_final(coh_crypto_keccak *st, uint8_t out[32])
{
    memset(st->buf + st->buf_len, 0, RATE - st->buf_len);
    st->buf[st->buf_len] ^= 0x01; /* Keccak padding; SHA3 would put 0x06 here */
    st->buf[RATE - 1] ^= 0x80;
    absorb_block(st->lanes, st->buf);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++)
            out[8 * i + j] = (uint8_t)(st->lanes[i] >> (8 * j));
    sodium_memzero(st, sizeof *st);
}

void coh_crypto_keccak256(uint8_t out[32], const void *data, size_t len)
{
    coh_crypto_keccak st;
    coh_crypto_keccak_init(&st);
    coh_crypto_keccak_update(&st, data, len);
    coh_crypto_keccak_final(&st, out);
}
