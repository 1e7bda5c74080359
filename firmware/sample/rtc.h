/* Wall clock: seconds since 1970-01-01 kept from the millisecond tick. */
#ifndef SAMPLE_RTC_H
#define SAMPLE_RTC_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint16_t year;
    uint8_t month; /* 1..12 */
    uint8_t day;   /* 1..31 */
    uint8_t hour, minute, second;
    uint8_t weekday; /* 0 = Sunday */
} datetime_t;

void rtc_set(uint32_t epoch);
uint32_t rtc_now(void);
int rtc_is_set(void);
void rtc_to_datetime(uint32_t epoch, datetime_t *dt);
uint32_t rtc_from_datetime(const datetime_t *dt);
int rtc_parse(const char *date, const char *time, uint32_t *epoch);
int rtc_format(uint32_t epoch, char *buf, size_t size);
const char *rtc_month_name(unsigned month);

#endif
