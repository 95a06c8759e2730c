/*
 * Sub-2-bit ternary layouts against the 2-bit kernel at batch 1 (issue 16, item 5; results in
 * docs/KERNELS.md). Each candidate is a complete batch-1 kernel over 64-byte blocks, four far-apart
 * rows in lockstep like native/src/kernel_avx512vnni.c, timed on the BitLinear shapes of MMfreeLM
 * 370M..2.7B with the weights rotated over a 256 MiB arena (cold, from DRAM), or with `warm` as
 * argument on one matrix that stays in L2 (the kernel's own speed). Figures are G weights/s, best
 * of 11 interleaved repetitions of >= 30 ms of thread CPU time (on a shared machine the wall clock also
 * counts time the core ran other work); "(x)" is the speed relative to the 2-bit kernel.
 *
 *   gcc -O3 -o /tmp/sub2bit bench/sub2bit-candidates.c && /tmp/sub2bit && /tmp/sub2bit warm
 *
 * Candidates (5 trits per byte, 1.6 bits a weight; byte i of a block holds columns i + 64k):
 * - 5trit-2perm: base 3; digit k by two vpermi2b (table entries 0-127, 128-255) and a blend on bit 7;
 * - 5trit-mod9: base 3; v mod 9 and v div 9 by two 256-entry lookups, then each digit by one vpermb;
 * - 5trit-tq1: ggml TQ1_0's encoding, q = ceil(256 v / 243): digit k = ((q 3^k mod 256) 3) >> 8,
 *   the byte products from two vpmullw, the digit from two byte compares;
 * - 1.6-bit read: a plain streaming read of the 1.6-bit bytes, the layout's roofline.
 */
#define _GNU_SOURCE
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t);return t.tv_sec+t.tv_nsec*1e-9;}
#define T __attribute__((target("avx512f,avx512bw,avx512vnni,avx512vbmi")))
static inline __attribute__((always_inline)) T __m512i dp(__m512i a, __m512i c, __m512i x){__asm__("vpdpbusd %2, %1, %0":"+v"(a):"v"(c),"vm"(x));return a;}
/* 2-bit baseline: the repository kernel's batch-1 loop (4 far-apart rows, masks in place). */
T static void k2(const uint8_t *w, int rows, int pc, const int8_t *x, int32_t *out){
  const __m512i m0=_mm512_set1_epi8(3),m1=_mm512_set1_epi8(12),m2=_mm512_set1_epi8(48),m3=_mm512_set1_epi8((char)192);
  const int blocks=pc/256; const size_t rb=pc/4; const int q=rows/4;
  for(int r=0;r<q;r++){ __m512i a[4][4]; const uint8_t*p[4];
    for(int i=0;i<4;i++){p[i]=w+(size_t)(r+i*q)*rb;for(int j=0;j<4;j++)a[i][j]=_mm512_setzero_si512();}
    for(int k=0;k<blocks;k++){const int8_t*xk=x+k*256;__m512i x0=_mm512_loadu_si512(xk),x1=_mm512_loadu_si512(xk+64),x2=_mm512_loadu_si512(xk+128),x3=_mm512_loadu_si512(xk+192);
      for(int i=0;i<4;i++){__m512i v=_mm512_loadu_si512(p[i]+k*64);a[i][0]=dp(a[i][0],_mm512_and_si512(v,m0),x0);a[i][1]=dp(a[i][1],_mm512_and_si512(v,m1),x1);a[i][2]=dp(a[i][2],_mm512_and_si512(v,m2),x2);a[i][3]=dp(a[i][3],_mm512_and_si512(v,m3),x3);}}
    for(int i=0;i<4;i++)out[r+i*q]=_mm512_reduce_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a[i][0],_mm512_srai_epi32(a[i][1],2)),_mm512_add_epi32(_mm512_srai_epi32(a[i][2],4),_mm512_srai_epi32(a[i][3],6))));}
}
/* base-3, five trits per byte: byte i of a 64-byte block holds columns i + 64k (k = 0..4) as
 * sum c_k 3^k. Digit k by two vpermi2b (low and high 128 table entries) and a blend on bit 7. */
static uint8_t DIG[5][256];
T static void k3(const uint8_t *w, int rows, int pc, const int8_t *x, int32_t *out){
  __m512i tl[5][2],th[5][2];for(int k=0;k<5;k++){tl[k][0]=_mm512_loadu_si512(DIG[k]);tl[k][1]=_mm512_loadu_si512(DIG[k]+64);th[k][0]=_mm512_loadu_si512(DIG[k]+128);th[k][1]=_mm512_loadu_si512(DIG[k]+192);}
  const int blocks=pc/320; const size_t rb=(size_t)blocks*64; const int q=rows/4;
  for(int r=0;r<q;r++){ __m512i a[4]; const uint8_t*p[4];
    for(int i=0;i<4;i++){p[i]=w+(size_t)(r+i*q)*rb;a[i]=_mm512_setzero_si512();}
    for(int b=0;b<blocks;b++){const int8_t*xk=x+b*320;
      for(int i=0;i<4;i++){__m512i v=_mm512_loadu_si512(p[i]+b*64);__mmask64 hi=_mm512_movepi8_mask(v);
        for(int k=0;k<5;k++){__m512i d=_mm512_mask_blend_epi8(hi,_mm512_permutex2var_epi8(tl[k][0],v,tl[k][1]),_mm512_permutex2var_epi8(th[k][0],v,th[k][1]));a[i]=dp(a[i],d,_mm512_loadu_si512(xk+64*k));}}}
    for(int i=0;i<4;i++)out[r+i*q]=_mm512_reduce_add_epi32(a[i]);}
}
/* base 3 via v mod 9 and v div 9 (one 256-entry map each: 27 x 9 values need 9 bits, so two maps),
 * then each digit by a single-register vpermb. */
static uint8_t MOD9[256],DIV9[256],SMALL[5][64];
T static void k3b(const uint8_t *w, int rows, int pc, const int8_t *x, int32_t *out){
  __m512i ml0=_mm512_loadu_si512(MOD9),ml1=_mm512_loadu_si512(MOD9+64),mh0=_mm512_loadu_si512(MOD9+128),mh1=_mm512_loadu_si512(MOD9+192);
  __m512i dl0=_mm512_loadu_si512(DIV9),dl1=_mm512_loadu_si512(DIV9+64),dh0=_mm512_loadu_si512(DIV9+128),dh1=_mm512_loadu_si512(DIV9+192);
  __m512i s[5];for(int k=0;k<5;k++)s[k]=_mm512_loadu_si512(SMALL[k]);
  const int blocks=pc/320; const size_t rb=(size_t)blocks*64; const int q=rows/4;
  for(int r=0;r<q;r++){ __m512i a[4]; const uint8_t*p[4];
    for(int i=0;i<4;i++){p[i]=w+(size_t)(r+i*q)*rb;a[i]=_mm512_setzero_si512();}
    for(int b=0;b<blocks;b++){const int8_t*xk=x+b*320;
      for(int i=0;i<4;i++){__m512i v=_mm512_loadu_si512(p[i]+b*64);__mmask64 hi=_mm512_movepi8_mask(v);
        __m512i lo=_mm512_mask_blend_epi8(hi,_mm512_permutex2var_epi8(ml0,v,ml1),_mm512_permutex2var_epi8(mh0,v,mh1));
        __m512i up=_mm512_mask_blend_epi8(hi,_mm512_permutex2var_epi8(dl0,v,dl1),_mm512_permutex2var_epi8(dh0,v,dh1));
        a[i]=dp(a[i],_mm512_permutexvar_epi8(lo,s[0]),_mm512_loadu_si512(xk));
        a[i]=dp(a[i],_mm512_permutexvar_epi8(lo,s[1]),_mm512_loadu_si512(xk+64));
        a[i]=dp(a[i],_mm512_permutexvar_epi8(up,s[2]),_mm512_loadu_si512(xk+128));
        a[i]=dp(a[i],_mm512_permutexvar_epi8(up,s[3]),_mm512_loadu_si512(xk+192));
        a[i]=dp(a[i],_mm512_permutexvar_epi8(up,s[4]),_mm512_loadu_si512(xk+256));}}
    for(int i=0;i<4;i++)out[r+i*q]=_mm512_reduce_add_epi32(a[i]);}
}
/* TQ1_0-style: byte q = ceil(256 v / 243); digit k (most significant first) = ((q * 3^k mod 256) * 3) >> 8,
 * the byte products from two vpmullw (even bytes, odd bytes), the digit from two byte compares
 * (p >= 86, p >= 171). The candidates read digits in different orders; only speed is compared. */
T static void k3c(const uint8_t *w, int rows, int pc, const int8_t *x, int32_t *out){
  const __m512i hiMask=_mm512_set1_epi16((short)0xFF00); const __mmask64 odd=0xAAAAAAAAAAAAAAAAull;
  const __m512i t86=_mm512_set1_epi8(86),t171=_mm512_set1_epi8((char)171),one=_mm512_set1_epi8(1);
  const int blocks=pc/320; const size_t rb=(size_t)blocks*64; const int q=rows/4;
  const short pw[5]={1,3,9,27,81};
  for(int r=0;r<q;r++){ __m512i a[4]; const uint8_t*p[4];
    for(int i=0;i<4;i++){p[i]=w+(size_t)(r+i*q)*rb;a[i]=_mm512_setzero_si512();}
    for(int b=0;b<blocks;b++){const int8_t*xk=x+b*320;
      for(int i=0;i<4;i++){__m512i v=_mm512_loadu_si512(p[i]+b*64);__m512i vh=_mm512_and_si512(v,hiMask);
        for(int k=0;k<5;k++){__m512i m=_mm512_set1_epi16(pw[k]);
          __m512i pb=k==0?v:_mm512_mask_blend_epi8(odd,_mm512_mullo_epi16(v,m),_mm512_mullo_epi16(vh,m));
          __m512i d=_mm512_mask_add_epi8(_mm512_maskz_mov_epi8(_mm512_cmpge_epu8_mask(pb,t86),one),_mm512_cmpge_epu8_mask(pb,t171),_mm512_maskz_mov_epi8(_mm512_cmpge_epu8_mask(pb,t86),one),one);
          a[i]=dp(a[i],d,_mm512_loadu_si512(xk+64*k));}}}
    for(int i=0;i<4;i++)out[r+i*q]=_mm512_reduce_add_epi32(a[i]);}
}
T static uint64_t readsum(const uint8_t*p,size_t n){__m512i s=_mm512_setzero_si512();size_t sp=n/4/64*64;__m512i s1=s,s2=s,s3=s;for(size_t i=0;i<sp;i+=64){s=_mm512_add_epi64(s,_mm512_sad_epu8(_mm512_loadu_si512(p+i),_mm512_setzero_si512()));s1=_mm512_add_epi64(s1,_mm512_sad_epu8(_mm512_loadu_si512(p+sp+i),_mm512_setzero_si512()));s2=_mm512_add_epi64(s2,_mm512_sad_epu8(_mm512_loadu_si512(p+2*sp+i),_mm512_setzero_si512()));s3=_mm512_add_epi64(s3,_mm512_sad_epu8(_mm512_loadu_si512(p+3*sp+i),_mm512_setzero_si512()));}return _mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(s,s1),_mm512_add_epi64(s2,s3)));}
static volatile uint64_t sink;static int warm;
int main(int argc,char**argv){warm=argc>1;
  for(int v=0;v<256;v++){int t=v;for(int k=0;k<5;k++){DIG[k][v]=v<243?t%3:0;t/=3;}MOD9[v]=v<243?v%9:0;DIV9[v]=v<243?v/9:0;}
  for(int u=0;u<64;u++){SMALL[0][u]=u%3;SMALL[1][u]=(u/3)%3;SMALL[2][u]=u%3;SMALL[3][u]=(u/3)%3;SMALL[4][u]=(u/9)%3;}
  /* tq1 check: digits of q = ceil(256 v/243) most significant first must be the base-3 digits of v */
  int bad=0;for(int v=0;v<243;v++){int qq=(v*256+242)/243;for(int k=0;k<5;k++){int pb=(qq*(int)(k==0?1:k==1?3:k==2?9:k==3?27:81))&255;int d=(pb>=86)+(pb>=171);int want=(v/(k==0?81:k==1?27:k==2?9:k==3?3:1))%3;if(d!=want)bad++;}}
  printf("tq1 digit check: %d mismatches\n",bad);
  { /* the base-3 kernels against plain decoding: 8 rows x 640 columns */
    static uint8_t wv[8*128]; static int8_t xv[640]; int32_t got[8], want[8]; int wrong=0;
    for(int i=0;i<8*128;i++)wv[i]=(uint8_t)(rand()%243); for(int i=0;i<640;i++)xv[i]=(int8_t)rand();
    for(int r=0;r<8;r++){int32_t sum=0;for(int b=0;b<2;b++)for(int i=0;i<64;i++){int v=wv[r*128+b*64+i];for(int k=0;k<5;k++){sum+=(v%3)*xv[b*320+64*k+i];v/=3;}}want[r]=sum;}
    k3(wv,8,640,xv,got);for(int r=0;r<8;r++)wrong+=got[r]!=want[r];
    k3b(wv,8,640,xv,got);for(int r=0;r<8;r++)wrong+=got[r]!=want[r];
    printf("base-3 kernels against plain decoding: %d mismatches\n",wrong);
  }
  size_t arena=256u<<20;uint8_t*A;posix_memalign((void**)&A,64,arena);for(size_t i=0;i<arena;i++)A[i]=(uint8_t)(rand()%243);
  int shapes[][2]={{1024,1024},{5632,1024},{1024,2816},{2048,2048},{11264,2048},{2048,5632},{2560,2560},{13824,2560},{2560,6912}};
  int8_t*x;posix_memalign((void**)&x,64,1<<16);for(int i=0;i<65536;i++)x[i]=rand();int32_t*out=malloc(1<<20);
  for(int s=0;s<9;s++){int R=shapes[s][0],C=shapes[s][1];int pc2=(C+255)/256*256,pc3=(C+319)/320*320;size_t b2=(size_t)R*pc2/4,b3=(size_t)R*pc3/5;
    double best[5]={1e9,1e9,1e9,1e9,1e9};
    for(int rep=0;rep<11;rep++){for(int c=0;c<5;c++){size_t bytes=c==0?b2:b3;size_t n=arena/bytes;if(n>64)n=64;double t0=now();int calls=0;size_t off=0;
      while(now()-t0<0.03){const uint8_t*w=A+off;if(c==0)k2(w,R,pc2,x,out);else if(c==1)k3(w,R,pc3,x,out);else if(c==2)k3b(w,R,pc3,x,out);else if(c==3)k3c(w,R,pc3,x,out);else sink+=readsum(w,b3);if(!warm){off+=(bytes+63)/64*64;if(off+bytes>arena)off=0;}calls++;}
      double t=(now()-t0)/calls;if(t<best[c])best[c]=t;}}
    /* G weights/s (rows x cols per call) */
    double w=(double)R*C;printf("%5d x %4d  2bit %.0f  5trit-2perm %.0f (%.2fx)  5trit-mod9 %.0f (%.2fx)  5trit-tq1 %.0f (%.2fx)  | 1.6-bit read %.0f G w/s (%.2fx 2bit)\n",R,C,w/best[0]/1e9,w/best[1]/1e9,best[0]/best[1],w/best[2]/1e9,best[0]/best[2],w/best[3]/1e9,best[0]/best[3],w/best[4]/1e9,best[0]/best[4]);
  }
}
